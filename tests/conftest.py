"""Shared fixtures: generated media served over loopback HTTP, the way yt-dlp meets the web."""
from __future__ import annotations

import functools
import json
from dataclasses import asdict
import http.server
import os
import threading
from pathlib import Path

import pytest

from tests import media

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODELS_DIR = Path(__file__).resolve().parent.parent / "instance" / "models"


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


@pytest.fixture(scope="session")
def media_server(media_dir):
    server = MediaServer(media_dir)
    yield server
    server.close()
