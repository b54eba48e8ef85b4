"""The app as it runs: `python app.py` under Waitress, its worker and the real pipeline, over loopback.

Jobs analyse generated media served by `media_server`; everything is checked through HTTP
(JSON API, event stream, file downloads) plus the database file and the job folders.
"""
from __future__ import annotations

import http.client
import json
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import srt

from tests.conftest import LiveServer

JOB_TIMEOUT = 900  # seconds for one analysis: 2 shared cores, other work running
# Short proposed clips, so the 29 s interview surely has candidates.
SERVER_ENV = {"CLIP_MIN_SECONDS": "5", "CLIP_MAX_SECONDS": "20", "EVENTS_KEEPALIVE_SECONDS": "1"}
UNFINISHED = ("Pending", "Queued", "Downloading", "Processing")


# --- a small HTTP client ----------------------------------------------------------------------------

def call(server: LiveServer, method: str, path: str, body=None, timeout: float = 120):
    """(status, parsed JSON or raw bytes) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, kind = response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read(), error.headers.get_content_type()
    return status, (json.loads(raw) if kind == "application/json" and raw else raw)


def submit(server, url: str) -> dict:
    status, body = call(server, "POST", "/api/jobs", {"url": url})
    assert status == 201, body
    return body["jobs"][0]


def wait_for(what, predicate, timeout: float = JOB_TIMEOUT, interval: float = 0.1):
    """Poll `what()` until `predicate(value)`; return the value (fail with the last one on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out; last value: {value!r}")
        time.sleep(interval)


def job(server, job_id: int) -> dict:
    status, body = call(server, "GET", f"/api/jobs/{job_id}")
    assert status == 200, body
    return body


def wait_job(server, job_id: int, statuses=("Processed", "Error", "Cancelled")) -> dict:
    return wait_for(lambda: job(server, job_id), lambda j: j["status"] in statuses)


def wait_running(server, job_id: int, step: str | None = None) -> dict:
    """Until the job is Processing (at `step` if given); fails if it finished first."""
    def ready(j):
        assert j["status"] not in ("Processed", "Error", "Cancelled"), j
        return j["status"] == "Processing" and (step is None or j["step"] == step)
    return wait_for(lambda: job(server, job_id), ready, interval=0.05)


def ffprobe_duration(path: Path) -> float:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                           str(path)], capture_output=True, text=True, check=True, timeout=60)
    return float(done.stdout.strip())


class EventStream:
    """/events read on a thread: each event (with the time it arrived) and each comment line."""

    def __init__(self, server: LiveServer, path: str = "/events"):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream"})
        self.socket = self.connection.sock
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")
        self.events: list[tuple[float, str, dict]] = []
        self.comments: list[tuple[float, str]] = []
        self.fields: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        kind, data = "message", []
        try:
            while True:
                raw = self.response.readline()
                if not raw:
                    return
                line = raw.decode("utf-8").rstrip("\r\n")
                with self.lock:
                    if line.startswith(":"):
                        self.comments.append((time.monotonic(), line))
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line.startswith("retry:"):
                        self.fields.append(line)
                    elif line == "" and data:
                        self.events.append((time.monotonic(), kind, json.loads("\n".join(data))))
                        kind, data = "message", []
        except (OSError, ValueError, http.client.HTTPException):
            return

    def job_statuses(self, job_id: int) -> list[str]:
        """The job's statuses in the order they arrived, repeats (progress updates) folded."""
        statuses = []
        with self.lock:
            for _, kind, data in self.events:
                if kind == "job" and data["id"] == job_id and (not statuses or statuses[-1] != data["status"]):
                    statuses.append(data["status"])
        return statuses

    def close(self):
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()
        self.thread.join(timeout=10)


# --- the shared server -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("live") / "app", **SERVER_ENV).start()
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def no_job_left_running(request):
    """After each test on the shared server, nothing is left queued or running for the next one."""
    yield
    if "server" not in request.fixturenames:
        return
    live = request.getfixturevalue("server")
    if live.process.poll() is not None:
        return
    _, body = call(live, "GET", "/api/jobs?limit=200")
    for item in body["jobs"]:
        if item["status"] in UNFINISHED:
            call(live, "POST", f"/api/jobs/{item['id']}/cancel", {})
            wait_job(live, item["id"])


# --- the feature, end to end -------------------------------------------------------------------------

def test_analyse_clip_download_and_delete(server, media_server, tmp_path):
    created = submit(server, media_server.url("interview.mp4"))
    assert created["status"] in ("Queued", "Downloading")  # the worker may claim it before the reply is read
    done = wait_job(server, created["id"])
    assert done["status"] == "Processed", done
    job_id = done["id"]
    assert "interview" in done["title"] and 28 < done["duration"] < 31
    assert done["progress"] == 1.0 and done["finished_at"] and done["error"] is None

    _, body = call(server, "GET", f"/api/jobs/{job_id}/segments")
    segments = body["segments"]
    assert segments and {s["speaker"] for s in segments} and body["turns"]
    said = " ".join(s["text"] for s in segments).lower()
    assert "balcony" in said and "sunlight" in said
    _, body = call(server, "GET", f"/api/jobs/{job_id}/candidates")
    candidates = body["candidates"]
    assert candidates, "the interview should offer at least one 5-20 s candidate"

    # A clip from the best candidate, and one from a custom range with burnt-in captions.
    best = candidates[0]
    status, from_candidate = call(server, "POST", f"/api/jobs/{job_id}/clips", {"candidate_id": best["id"]})
    assert status == 202 and from_candidate["status"] == "Creating"
    status, custom = call(server, "POST", f"/api/jobs/{job_id}/clips",
                          {"start": 3.0, "end": 9.5, "captions": True, "vertical": True})
    assert status == 202
    for clip, expected in ((from_candidate, best["end"] - best["start"]), (custom, 6.5)):
        clip = wait_for(lambda: call(server, "GET", f"/api/clips/{clip['id']}")[1],
                        lambda c: c["status"] != "Creating")
        assert clip["status"] == "Created", clip
        status, data = call(server, "GET", clip["url"])
        assert status == 200
        path = tmp_path / f"clip-{clip['id']}.mp4"
        path.write_bytes(data)
        assert abs(ffprobe_duration(path) - expected) <= 0.1
        assert (server.root / "clips" / str(job_id) / f"clip-{clip['id']}.mp4").is_file()

    # The transcript as SRT: one subtitle per segment, speaker-tagged, in order.
    status, data = call(server, "GET", f"/jobs/{job_id}/transcript.srt")
    assert status == 200
    subtitles = list(srt.parse(data.decode("utf-8")))
    assert [s.content for s in subtitles] == [f"[{s['speaker']}] {s['text']}" for s in segments]
    assert all(abs(sub.start.total_seconds() - s["start"]) < 0.002 for sub, s in zip(subtitles, segments))

    # Delete: rows (job, segments, clips) and both folders are gone.
    assert (server.root / "downloads" / str(job_id)).is_dir()
    status, _ = call(server, "DELETE", f"/api/jobs/{job_id}")
    assert status == 204
    assert call(server, "GET", f"/api/jobs/{job_id}")[0] == 404
    assert call(server, "GET", f"/api/jobs/{job_id}/segments")[0] == 404
    assert call(server, "GET", f"/api/clips/{from_candidate['id']}")[0] == 404
    assert call(server, "GET", f"/jobs/{job_id}/transcript.srt")[0] == 404
    assert not (server.root / "downloads" / str(job_id)).exists()
    assert not (server.root / "clips" / str(job_id)).exists()


def test_bad_media_fails_readably(server, media_server):
    for name, message in (("missing.mp4", ""), ("notes.txt", ""), ("no-audio.mp4", "no audio")):
        created = submit(server, media_server.url(name))
        done = wait_job(server, created["id"])
        assert done["status"] == "Error" and done["error"], done
        assert message in done["error"].lower()
        assert "Traceback" not in done["error"]
    _, body = call(server, "GET", "/api/jobs?status=Error")
    assert body["total"] >= 3
    status, page = call(server, "GET", "/errors")
    assert status == 200 and b"no-audio.mp4" in page


def test_a_failed_job_shows_the_stage_it_failed_in(server, media_server):
    created = submit(server, media_server.url("no-audio.mp4?failed-step"))
    done = wait_job(server, created["id"])
    assert (done["status"], done["step"]) == ("Error", "audio"), done
    assert "no audio" in done["error"]
    for path in ("/", f"/jobs/{created['id']}"):
        status, page = call(server, "GET", path)
        assert status == 200 and b"failed during audio" in page, path


def test_a_video_that_does_not_say_how_long_it_is(server, media_server, media_dir):
    """Matroska streamed to a file has no duration in it: the app measures it, shows the details page
    and cuts clips (it used to divide by zero on the page and refuse every clip)."""
    streamed = media_dir / "streamed.mkv"
    if not streamed.exists():
        with open(streamed, "wb") as out:
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
                            "-i", str(media_dir / "short.wav"), "-c:v", "libx264", "-preset", "ultrafast",
                            "-c:a", "aac", "-shortest", "-f", "matroska", "pipe:1"], stdout=out, check=True, timeout=120)
    assert "duration" not in json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", str(streamed)],
        capture_output=True, text=True, check=True, timeout=60).stdout)["format"]
    done = wait_job(server, submit(server, media_server.url("streamed.mkv"))["id"])
    assert done["status"] == "Processed", done
    assert 7.5 < done["duration"] < 9.0
    status, page = call(server, "GET", f"/jobs/{done['id']}")
    assert status == 200 and b'class="turn"' in page
    status, clip = call(server, "POST", f"/api/jobs/{done['id']}/clips", {"start": 1.0, "end": 4.0, "vertical": True})
    assert status == 202, clip
    clip = wait_for(lambda: call(server, "GET", f"/api/clips/{clip['id']}")[1], lambda c: c["status"] != "Creating")
    assert clip["status"] == "Created", clip


# --- live events ------------------------------------------------------------------------------------

def test_events_deliver_each_status_in_order(server, media_server):
    stream = EventStream(server)
    try:
        wait_for(lambda: stream.fields, bool, timeout=30)  # the stream is open and flushed
        created = submit(server, media_server.url("short.mp4?events"))
        done = wait_job(server, created["id"])
        assert done["status"] == "Processed", done
        seen_done = time.monotonic()
        # Delivered promptly: the final state is on the stream moments after the API shows it.
        statuses = wait_for(lambda: stream.job_statuses(created["id"]), lambda s: s and s[-1] == "Processed",
                            timeout=10)
        assert statuses == ["Queued", "Downloading", "Processing", "Processed"]
        assert time.monotonic() - seen_done < 10
        final = [data for _, kind, data in stream.events if kind == "job" and data["id"] == created["id"]][-1]
        assert final["progress"] == 1.0 and final["details_url"] == f"/jobs/{created['id']}"
    finally:
        stream.close()


def test_events_of_one_job_and_deletion(server, media_server):
    """`?job=ID` starts with that job's state; deleting it sends `deleted`."""
    created = submit(server, media_server.url("short.mp4?one-job"))
    done = wait_job(server, created["id"])
    stream = EventStream(server, f"/events?job={done['id']}")
    try:
        wait_for(lambda: stream.job_statuses(done["id"]), lambda s: s == ["Processed"], timeout=30)
        assert call(server, "DELETE", f"/api/jobs/{done['id']}")[0] == 204
        wait_for(lambda: [d for _, k, d in stream.events if k == "deleted"], bool, timeout=30)
    finally:
        stream.close()


def test_open_streams_do_not_starve_the_server(server):
    streams = []
    try:
        for _ in range(10):
            streams.append(EventStream(server))
        for stream in streams:
            wait_for(lambda: stream.fields, bool, timeout=30)  # each is being served
        for path in ("/", "/api/jobs", "/errors"):
            started = time.monotonic()
            status, _ = call(server, "GET", path, timeout=10)
            assert status == 200 and time.monotonic() - started < 10, path
    finally:
        for stream in streams:
            stream.close()
    assert call(server, "GET", "/api/jobs", timeout=10)[0] == 200


def test_idle_stream_gets_keep_alive_comments(server):
    stream = EventStream(server)
    try:
        comments = wait_for(lambda: list(stream.comments), lambda c: len(c) >= 2, timeout=60)
        assert all(text == ": keep-alive" for _, text in comments)
        assert not [kind for _, kind, _ in stream.events if kind not in ("job", "clip")]
    finally:
        stream.close()


# --- cancel and delete while running ---------------------------------------------------------------------

def test_cancel_running_job(server, media_server):
    created = submit(server, media_server.url("interview.mp4?cancel"))
    wait_running(server, created["id"])
    status, body = call(server, "POST", f"/api/jobs/{created['id']}/cancel", {})
    assert status == 202, body
    done = wait_job(server, created["id"])
    assert done["status"] == "Cancelled" and done["error"] is None
    assert call(server, "POST", f"/api/jobs/{created['id']}/cancel", {})[0] == 409
    # The worker is free again: the next job runs.
    after = submit(server, media_server.url("short.mp4?after-cancel"))
    assert wait_job(server, after["id"])["status"] == "Processed"


def test_delete_running_job(server, media_server):
    created = submit(server, media_server.url("interview.mp4?delete"))
    wait_running(server, created["id"])
    folder = server.root / "downloads" / str(created["id"])
    assert folder.is_dir()
    status, _ = call(server, "DELETE", f"/api/jobs/{created['id']}", timeout=180)
    assert status == 204
    assert call(server, "GET", f"/api/jobs/{created['id']}")[0] == 404
    time.sleep(1)  # nothing writes the folder back once the delete has answered
    assert not folder.exists()
    after = submit(server, media_server.url("short.mp4?after-delete"))
    assert wait_job(server, after["id"])["status"] == "Processed"
    assert not folder.exists()


# --- restart --------------------------------------------------------------------------------------------

def test_killed_server_resumes_the_job(tmp_path, media_server):
    root = tmp_path / "app"
    first = LiveServer(root, **SERVER_ENV).start()
    try:
        created = submit(first, media_server.url("interview.mp4"))
        wait_running(first, created["id"], step="transcribe")
    finally:
        first.kill(signal.SIGKILL)
    assert first.process.returncode == -signal.SIGKILL

    second = LiveServer(root, **SERVER_ENV).start()
    try:
        done = wait_job(second, created["id"])
        assert done["status"] == "Processed", done
        _, body = call(second, "GET", "/api/jobs")
        assert body["total"] == 1
        _, segments = call(second, "GET", f"/api/jobs/{created['id']}/segments")
        _, candidates = call(second, "GET", f"/api/jobs/{created['id']}/candidates")
    finally:
        second.stop()

    result = json.loads((root / "downloads" / str(created["id"]) / "result.json").read_text())
    assert len(segments["segments"]) == len(result["segments"]) > 0
    assert len(segments["turns"]) == len(result["turns"])
    assert len(candidates["candidates"]) == len(result["candidates"])
    connection = sqlite3.connect(root / "instance" / "videos.db")
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
        assert connection.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == len(result["segments"])
        assert connection.execute("SELECT COUNT(*) FROM candidates").fetchone()[0] == len(result["candidates"])
    finally:
        connection.close()
