"""Shared fixtures: generated media served over loopback HTTP, the way yt-dlp meets the web."""
from __future__ import annotations

import functools
import json
from dataclasses import asdict
import http.server
import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from tests import media

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODELS_DIR = Path(__file__).resolve().parent.parent / "instance" / "models"


def run_cli(*args: str, timeout: float = 600):
    """`python -m pipeline ARGS` with no Hugging Face token, as a user without one runs it."""
    import subprocess
    import sys
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYANNOTE_METRICS_ENABLED": "false"}
    env.pop("HUGGING_FACE_TOKEN", None)
    env.pop("HF_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


class MediaServer:
    """A loopback HTTP server over one folder; `url(name)` gives a file's address."""

    def __init__(self, root: Path):
        self.root = root
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="media-server")
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """Every test video, made once per session."""
    root = tmp_path_factory.mktemp("media")
    recording = media.dialogue(media.INTERVIEW, root / "interview.wav")
    media.mux_video(recording.wav, root / "interview.mp4", recording.duration)
    (root / "interview.json").write_text(json.dumps([asdict(u) for u in recording.utterances]))
    short = media.dialogue(media.INTERVIEW[2:4], root / "short.wav")
    media.mux_video(short.wav, root / "short.mp4", short.duration)
    media.mux_video(None, root / "no-audio.mp4", 4.0)
    media.silent_video(root / "silence.mp4", 6.0)
    data = (root / "interview.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (root / "notes.txt").write_text("This is a text file, not a video.\n")
    return root


@pytest.fixture(scope="session")
def interview(media_dir) -> media.Recording:
    """The reference of interview.mp4: two speakers, a question and its answer."""
    utterances = [media.Utterance(**u) for u in json.loads((media_dir / "interview.json").read_text())]
    wav = media_dir / "interview.wav"
    return media.Recording(wav=wav, duration=media.wav_duration(wav), utterances=utterances)


@pytest.fixture
def logging_ffmpeg_dir(tmp_path) -> tuple[Path, Path]:
    """A folder holding ffmpeg and ffprobe wrappers that log each call, then run the real tools."""
    folder, log = tmp_path / "ffmpeg-bin", tmp_path / "calls.log"
    folder.mkdir()
    for tool in ("ffmpeg", "ffprobe"):
        wrapper = folder / tool
        wrapper.write_text(f'#!/bin/sh\necho {tool} >> "{log}"\nexec "{shutil.which(tool)}" "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return folder, log


@pytest.fixture(scope="session")
def media_server(media_dir):
    server = MediaServer(media_dir)
    yield server
    server.close()


REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`python app.py` under the real Waitress server, in its own process, on a free port."""

    def __init__(self, root: Path, **env):
        self.root = root
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "DATABASE_PATH": str(root / "instance" / "videos.db"),
                    "DOWNLOAD_DIR": str(root / "downloads"), "PROCESSED_CLIPS_DIR": str(root / "clips"),
                    "MODELS_DIR": str(MODELS_DIR), "ALLOW_PRIVATE_URLS": "1", "PYTHONUNBUFFERED": "1",
                    **{key: str(value) for key, value in env.items()}}
        self.process = None
        self.log = root / "server.log"

    def start(self, timeout: float = 60.0) -> "LiveServer":
        import subprocess
        import sys
        import time
        import urllib.error
        import urllib.request
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([sys.executable, str(REPO / "app.py")], cwd=REPO, env=self.env,
                                        stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.base_url + "/api/jobs?limit=1", timeout=2)
                return self
            except urllib.error.HTTPError:  # an answer all the same (401 when sign-in is required)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def kill(self, sig=None) -> None:
        import signal
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig or signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        import signal
        self.kill(signal.SIGTERM)


class AppServer:
    """An app from create_app under real Waitress on a thread of this process, so a test can save
    and announce changes itself (through `app.extensions["worker"]`); `port` may reuse a stopped one's."""

    def __init__(self, app, port: int = 0):
        from waitress.server import create_server
        self.app = app
        self.server = create_server(app, host="127.0.0.1", port=port, threads=8, ident="clipper")
        self.port = self.server.effective_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="waitress")
        self.thread.start()

    def stop(self) -> None:
        """Stop as the app does (its live streams end), then close every connection on Waitress's own thread."""
        from waitress import wasyncore
        self.app.extensions["worker"].stop()
        self.server.task_dispatcher.shutdown()
        try:
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        except OSError:  # seen once: the trigger's descriptor already closed; close the rest from here
            wasyncore.close_all(self.server._map, ignore_all=True)
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(tmp_path):
    server = LiveServer(tmp_path / "app").start()
    yield server
    server.stop()


def rss(title: str, items: list[tuple[str, str]]) -> str:
    """A podcast-style feed of (address, title) items: yt-dlp's generic extractor lists it as a playlist."""
    from xml.sax.saxutils import escape, quoteattr
    entries = "".join(f"<item><title>{escape(name)}</title><enclosure url={quoteattr(url)} type='video/mp4'/></item>"
                      for url, name in items)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{escape(title)}</title>{entries}</channel></rss>"


@pytest.fixture(scope="session")
def playlist_server(media_dir, tmp_path_factory):
    """Playlists yt-dlp understands offline, over loopback: feeds of the test videos and a page of them.

    three.xml lists short.mp4 three times (distinct addresses: ?part=N), empty.xml nothing, page.html
    has two <video> elements.
    """
    root = tmp_path_factory.mktemp("playlists")
    for name in ("short.mp4", "silence.mp4"):
        (root / name).symlink_to(media_dir / name)
    server = MediaServer(root)
    (root / "three.xml").write_text(rss("Garden talks", [(server.url(f"short.mp4?part={n}"), f"Garden talk {n}")
                                                         for n in (1, 2, 3)]))
    (root / "empty.xml").write_text(rss("Nothing yet", []))
    (root / "page.html").write_text(f'<html><head><title>Two clips</title></head><body>'
                                    f'<video src="{server.url("short.mp4")}"></video>'
                                    f'<video src="{server.url("silence.mp4")}"></video></body></html>')
    yield server
    server.close()
