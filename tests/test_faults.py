"""Faults under the real server (`python app.py`, Waitress, its analysis and clip processes, yt-dlp,
ffmpeg, the models): a cancel in each stage, the app killed (SIGKILL) in each stage and restarted,
and a full disk while downloading and while cutting.

To be in a given stage when acting, the run is slowed, never faked: the media server can send
slowly, ffmpeg (through FFMPEG_PATH) can read its input slowly, and the analysis process waits at
the start of a stage while a file named after it exists in CLIPPER_TEST_HOLD_DIR. Every process the
app starts inherits CLIPPER_TEST_MARK, so what is left of an app after a kill is found in /proc.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import db
from tests.conftest import LiveServer
from tests.processes import app_processes
from tests.test_app_live import call, job, submit, wait_for, wait_job

CANCEL_SECONDS = 2.0  # a cancel takes effect within this, in every stage


# --- slowing a run down, and finding what is left of an app -----------------------------------------

class _SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the test media; while `server.slow`, at about 300 kB/s."""

    def copyfile(self, source, outputfile):
        while block := source.read(32 * 1024):
            outputfile.write(block)
            if self.server.slow:
                time.sleep(0.1)

    def log_message(self, format, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    slow = False

    def handle_error(self, request, client_address):
        pass  # a client killed mid-download is what these tests do


@pytest.fixture(scope="module")
def media(media_dir):
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_SlowHandler, directory=str(media_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = lambda name: f"http://127.0.0.1:{server.server_address[1]}/{name}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hold(tmp_path) -> Path:
    """The analysis process waits at a stage while a file of that name is here; "slow-ffmpeg"
    makes ffmpeg read its input at a twentieth of real time."""
    folder = tmp_path / "hold"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def ffmpeg_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ffmpeg-bin")
    real = shutil.which("ffmpeg")
    (folder / "ffmpeg").write_text(
        "#!/bin/sh\n"
        'if [ -e "$CLIPPER_TEST_HOLD_DIR/slow-ffmpeg" ]; then\n'
        f'  case " $* " in *" -i "*) exec "{real}" -readrate 0.05 "$@";; esac\n'
        "fi\n"
        f'exec "{real}" "$@"\n')
    (folder / "ffmpeg").chmod(0o755)
    (folder / "ffprobe").symlink_to(shutil.which("ffprobe"))
    return folder


def ffmpeg_of(mark: str, needle: str) -> list[int]:
    return [pid for pid, command in app_processes(mark) if "ffmpeg" in command and needle in command]


def make_server(root: Path, mark: str, hold: Path, ffmpeg_dir: Path, **env) -> LiveServer:
    return LiveServer(root, CLIPPER_TEST_MARK=mark, CLIPPER_TEST_HOLD_DIR=str(hold), FFMPEG_PATH=str(ffmpeg_dir),
                      CLIP_MIN_SECONDS="2", CLIP_MAX_SECONDS="6", **env)


def partial_files(root: Path) -> list[Path]:
    return [path for folder in (root / "downloads", root / "clips") if folder.exists()
            for path in folder.rglob("*") if ".part" in path.name or path.suffix == ".srt" and "captions" in path.name]


def check_database(root: Path, job_id: int) -> None:
    """One job, its analysis stored once (as in its result.json), and an intact file."""
    result = json.loads((root / "downloads" / str(job_id) / "result.json").read_text())
    connection = sqlite3.connect(root / "instance" / "videos.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
        assert connection.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == len(result["segments"]) > 0
        assert connection.execute("SELECT COUNT(*) FROM speaker_turns").fetchone()[0] == len(result["turns"])
        assert connection.execute("SELECT COUNT(*) FROM candidates").fetchone()[0] == len(result["candidates"])
        assert connection.execute("SELECT COUNT(*) FROM (SELECT position FROM segments GROUP BY job_id, position"
                                  " HAVING COUNT(*) > 1)").fetchone()[0] == 0
    finally:
        connection.close()


# --- cancel in every stage --------------------------------------------------------------------------

def test_cancel_takes_effect_within_two_seconds_in_every_stage(tmp_path, media, hold, ffmpeg_dir):
    mark = uuid.uuid4().hex
    server = make_server(tmp_path / "app", mark, hold, ffmpeg_dir).start()
    try:
        def cancel_and_time(job_id: int, stopped) -> float:
            started = time.monotonic()
            status, _ = call(server, "POST", f"/api/jobs/{job_id}/cancel", {})
            assert status == 202
            done = wait_for(lambda: job(server, job_id), lambda j: j["status"] == "Cancelled",
                            timeout=10, interval=0.02)
            took = time.monotonic() - started
            wait_for(stopped, bool, timeout=CANCEL_SECONDS)  # and what ran is gone
            assert done["error"] is None
            return took

        analysis = lambda: [pid for pid, command in app_processes(mark) if "analysis_process.py" in command]
        timings = {}

        # While the analysis process loads its models (the job waits for it).
        first = analysis()
        created = submit(server, media.url("short.mp4?warm-up"))
        # Claimed by the job thread: a cancel before that cancels a waiting job and rightly leaves the process be.
        wait_for(lambda: job(server, created["id"]), lambda j: j["status"] not in db.WAITING_STATUSES, interval=0.02)
        timings["model loading"] = cancel_and_time(created["id"], lambda: first[0] not in analysis())

        # Downloading, with the connection open.
        media.slow = True
        created = submit(server, media.url("short.mp4?download"))
        wait_for(lambda: job(server, created["id"]), lambda j: j["status"] == "Downloading" and j["progress"] > 0,
                 interval=0.05)
        timings["download"] = cancel_and_time(created["id"], lambda: True)
        media.slow = False

        # Extracting the audio, inside ffmpeg.
        (hold / "slow-ffmpeg").touch()
        created = submit(server, media.url("short.mp4?audio"))
        wait_for(lambda: ffmpeg_of(mark, "audio.wav"), bool, interval=0.05)
        pids = ffmpeg_of(mark, "audio.wav")
        timings["audio (ffmpeg)"] = cancel_and_time(created["id"], lambda: not set(pids) & set(ffmpeg_of(mark, "")))
        (hold / "slow-ffmpeg").unlink()

        # Inside transcription and diarization (the analysis waits at each stage's first report).
        for stage in ("transcribe", "diarize"):
            (hold / stage).touch()
            created = submit(server, media.url(f"short.mp4?{stage}"))
            wait_for(lambda: (hold / f"{stage}.reached").exists(), bool, interval=0.05)
            before = analysis()
            timings[stage] = cancel_and_time(created["id"], lambda: before[0] not in analysis())
            (hold / stage).unlink()

        # After all that the worker still runs a job to the end.
        created = submit(server, media.url("short.mp4?after"))
        assert wait_job(server, created["id"])["status"] == "Processed"
    finally:
        server.stop()
    print("cancel took:", {stage: round(took, 2) for stage, took in timings.items()})
    assert all(took < CANCEL_SECONDS for took in timings.values()), timings
    wait_for(lambda: app_processes(mark), lambda left: left == [], timeout=5)


# --- the app killed in each stage ----------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["download", "audio", "transcribe", "diarize", "clip"])
def test_killed_in_a_stage_and_restarted_every_job_completes_once(stage, tmp_path, media, hold, ffmpeg_dir):
    mark, root = uuid.uuid4().hex, tmp_path / "app"
    server = make_server(root, mark, hold, ffmpeg_dir).start()
    clip = None
    try:
        if stage == "clip":
            created = submit(server, media.url("short.mp4"))
            assert wait_job(server, created["id"])["status"] == "Processed"
            (hold / "slow-ffmpeg").touch()
            status, clip = call(server, "POST", f"/api/jobs/{created['id']}/clips",
                                {"start": 0.5, "end": 3.5, "captions": True})
            assert status == 202
            wait_for(lambda: ffmpeg_of(mark, f"clip-{clip['id']}"), bool, interval=0.05)
        elif stage == "download":
            media.slow = True
            created = submit(server, media.url("short.mp4"))
            wait_for(lambda: job(server, created["id"]), lambda j: j["status"] == "Downloading" and j["progress"] > 0,
                     interval=0.05)
        elif stage == "audio":
            (hold / "slow-ffmpeg").touch()
            created = submit(server, media.url("short.mp4"))
            wait_for(lambda: ffmpeg_of(mark, "audio.wav"), bool, interval=0.05)
        else:
            (hold / stage).touch()
            created = submit(server, media.url("short.mp4"))
            wait_for(lambda: (hold / f"{stage}.reached").exists(), bool, interval=0.05)
        assert len(app_processes(mark)) >= 3  # the app, its analysis process and its clip process
    finally:
        server.kill(signal.SIGKILL)
    # Everything the app started dies with it: no ffmpeg, no analysis or clip process is left.
    wait_for(lambda: app_processes(mark), lambda left: left == [], timeout=5)

    media.slow = False
    for name in ("slow-ffmpeg", stage):
        (hold / name).unlink(missing_ok=True)
    again = make_server(root, mark, hold, ffmpeg_dir).start()
    try:
        done = wait_job(again, created["id"])
        assert done["status"] == "Processed", done
        if clip:
            finished = wait_for(lambda: call(again, "GET", f"/api/clips/{clip['id']}")[1],
                                lambda c: c["status"] != "Creating")
            assert finished["status"] == "Created", finished
            assert call(again, "GET", finished["url"])[0] == 200
        _, listed = call(again, "GET", "/api/jobs")
        assert listed["total"] == 1
    finally:
        again.stop()
    wait_for(lambda: app_processes(mark), lambda left: left == [], timeout=5)
    check_database(root, created["id"])
    assert partial_files(root) == []
    clips = sorted(path.name for path in (root / "clips").rglob("*") if path.is_file())
    assert clips == ([f"clip-{clip['id']}.mp4"] if clip else [])


# --- a full disk ----------------------------------------------------------------------------------------

@pytest.fixture
def small_disks(tmp_path):
    """The downloads folder on a 4 MB tmpfs and the clips folder on a 64 kB one."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = []
    try:
        for name, size in (("downloads", "4m"), ("clips", "64k")):
            folder = tmp_path / "app" / name
            folder.mkdir(parents=True)
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                  capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
            mounted.append(folder)
        yield tmp_path / "app"
    finally:
        for folder in reversed(mounted):
            subprocess.run(["umount", "-l", str(folder)], timeout=30)


def test_a_full_disk_fails_the_download_and_the_cut_readably_and_loses_nothing_else(small_disks, media, hold,
                                                                                      ffmpeg_dir):
    root, mark = small_disks, uuid.uuid4().hex
    server = make_server(root, mark, hold, ffmpeg_dir).start()
    try:
        kept = submit(server, media.url("short.mp4"))  # 2 MB: fits
        assert wait_job(server, kept["id"])["status"] == "Processed"
        files = {path.name: path.stat().st_size for path in (root / "downloads" / str(kept["id"])).iterdir()}

        too_big = submit(server, media.url("interview.mp4"))  # 7 MB: does not
        failed = wait_job(server, too_big["id"])
        assert failed["status"] == "Error" and failed["step"] == "download"
        assert failed["error"] == "The disk is full (no space left on device); free some space and retry."
        assert list((root / "downloads" / str(too_big["id"])).iterdir()) == []  # its half file is gone

        status, clip = call(server, "POST", f"/api/jobs/{kept['id']}/clips", {"start": 0.5, "end": 6.0})
        assert status == 202
        clip = wait_for(lambda: call(server, "GET", f"/api/clips/{clip['id']}")[1], lambda c: c["status"] != "Creating")
        assert clip["status"] == "Failed"
        assert clip["error"] == "Cutting the clip failed: the disk is full (no space left on device)."

        # Nothing else was lost: the first job, its files and its page are as they were.
        assert {path.name: path.stat().st_size
                for path in (root / "downloads" / str(kept["id"])).iterdir()} == files
        assert job(server, kept["id"])["status"] == "Processed"
        assert call(server, "GET", f"/jobs/{kept['id']}")[0] == 200
        assert call(server, "GET", f"/api/jobs/{kept['id']}/segments")[1]["segments"]
    finally:
        server.stop()
    assert partial_files(root) == []
    connection = sqlite3.connect(root / "instance" / "videos.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        connection.close()
