"""The worker's life cycle against stand-ins for the analysis and clip processes: each blocks on an
event until the test lets it go or the worker stops it, so every race is played out exactly.

The stand-ins replace only the child processes; claims, cancels, deletes, restarts, the database and
the folders are the real ones. (The real child processes are proven in test_supervised.py and, under
the real server, in test_faults.py.)
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import db
import jobs
import settings_store
from config import load_settings
from events import Broadcaster
from pipeline.errors import Cancelled, MediaError
from tests.test_app_api import build_result
from worker import Worker, clips_dir, job_dir

WAIT = 10.0  # seconds before a wait counts as a failure; every step here takes milliseconds


class StandIn:
    """Stands in for a child process: each call reports, then blocks until released or stopped."""

    def __init__(self, answer=lambda request: None):
        self.answer = answer  # request -> the call's result (or raise)
        self.called = threading.Event()
        self.release = threading.Event()
        self.requests: list = []
        self.starts = self.stops = 0

    def start(self, keep_fds=None) -> None:
        self.starts += 1

    def stop(self) -> None:
        self.stops += 1

    def call(self, request, on_message, should_stop):
        self.requests.append(request)
        on_message("progress", "download", 0.5, "halfway")
        self.called.set()
        while not self.release.is_set():
            if should_stop():
                self.stop()  # as the real one does: the child is killed
                raise Cancelled()
            time.sleep(0.002)
        return self.answer(request)


def analysed(request):
    """What the analysis returns: a result for a video it 'downloaded' into the job folder."""
    _url, folder, _options = request
    Path(folder).mkdir(parents=True, exist_ok=True)
    video = Path(folder) / "video.mp4"
    video.write_bytes(b"video")
    return build_result(str(video))


def cut(request):
    """What the clip process does: write the clip file."""
    out = Path(request[3])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"clip")
    return str(out)


@pytest.fixture
def settings(tmp_path):
    return load_settings({"DATABASE_PATH": str(tmp_path / "instance" / "videos.db"),
                          "DOWNLOAD_DIR": str(tmp_path / "downloads"), "PROCESSED_CLIPS_DIR": str(tmp_path / "clips"),
                          "ALLOW_PRIVATE_URLS": "1"})


@pytest.fixture
def connection(settings):
    connection = db.connect(settings.database_path)
    db.migrate(connection)
    yield connection
    connection.close()


@pytest.fixture
def make_worker(settings):
    made = []

    def make(analysis=None, cutter=None, start=True) -> Worker:
        worker = Worker(settings, Broadcaster(), analysis or StandIn(analysed), cutter or StandIn(cut))
        if start:
            worker.start()
        made.append(worker)
        return worker

    yield make
    for worker in made:
        for stand_in in (worker.analysis, worker.cutter):
            if isinstance(stand_in, StandIn):
                stand_in.release.set()
        worker.stop()


def wait_until(predicate, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def queued_job(connection, url="http://example.com/v") -> int:
    job_id = db.create_job(connection, url, "720p")
    db.set_job_status(connection, job_id, "Queued", step="queued")
    return job_id


def status(connection, job_id):
    row = db.get_job(connection, job_id)
    return row["status"] if row else None


def processed_job_with_clip(connection, settings) -> tuple[int, int]:
    job_id = db.create_job(connection, "http://example.com/v", "720p")
    folder = job_dir(settings, job_id)
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"video")
    db.save_result(connection, job_id, build_result(str(folder / "video.mp4")))
    return job_id, db.create_clip(connection, job_id, 1.0, 4.0, False, False)


# --- settings changed while the app runs ----------------------------------------------------------

def test_settings_page_changes_reach_the_next_job_and_a_new_model_or_policy_takes_a_fresh_process(
        make_worker, connection, settings):
    worker = make_worker()
    analysis = worker.analysis
    analysis.release.set()

    def run_one(url: str):
        job_id = queued_job(connection, url)
        worker.enqueue(job_id)
        wait_until(lambda: status(connection, job_id) == "Processed")
        return analysis.requests[-1][2]  # the AnalysisOptions the job ran with

    assert run_one("http://example.com/1").clip_max_seconds == 60 and analysis.starts == 1
    settings_store.save(settings, connection, {"CLIP_MAX_SECONDS": "30", "DIARIZATION_BACKEND": "embedded"}, "ann")
    options = run_one("http://example.com/2")
    assert (options.clip_max_seconds, options.diarization) == (30, "embedded")
    assert (analysis.starts, analysis.stops) == (1, 0)  # used per job: no new process needed
    settings_store.save(settings, connection, {"FASTER_WHISPER_MODEL": "small"}, "ann")
    assert run_one("http://example.com/3").whisper_model == "small"
    assert (analysis.starts, analysis.stops) == (2, 1) and analysis.setup[0].whisper_model == "small"
    settings_store.save(settings, connection, {"ALLOWED_NETWORKS": "192.168.1.20"}, "ann")
    run_one("http://example.com/4")
    assert analysis.starts == 3 and analysis.setup[1].allowed_networks == ("192.168.1.20/32",)


# --- claiming ------------------------------------------------------------------------------------

def test_a_cancel_racing_the_claim_wins(make_worker, connection, settings, monkeypatch):
    """The web side cancels just after the job thread has read the job: the job must not run anyway."""
    job_id = queued_job(connection)
    raced = []
    read_job = db.get_job

    def get_job_then_cancel(conn, wanted):
        row = read_job(conn, wanted)
        if threading.current_thread().name == "job-worker" and wanted == job_id and not raced:
            raced.append(True)
            web = db.connect(settings.database_path)
            jobs.cancel(web, worker, job_id)  # exactly what POST /api/jobs/<id>/cancel does
            web.close()
        return row

    monkeypatch.setattr(db, "get_job", get_job_then_cancel)
    worker = make_worker(start=False)
    worker.start()
    worker.enqueue(job_id)
    wait_until(lambda: status(connection, job_id) == "Cancelled" and worker.jobs.unfinished_tasks == 0)
    worker.analysis.release.set()
    time.sleep(0.05)
    assert raced and status(connection, job_id) == "Cancelled"


def test_a_job_cancelled_or_deleted_while_queued_never_runs(make_worker, connection):
    cancelled, deleted, kept = queued_job(connection, "http://a.example/v"), queued_job(connection, "http://b.example/v"), \
        queued_job(connection, "http://c.example/v")
    worker = make_worker(start=False)
    jobs.cancel(connection, worker, cancelled)
    jobs.delete(connection, worker, [deleted])
    worker.start()
    for job_id in (cancelled, deleted, kept):
        worker.enqueue(job_id)
    wait_until(worker.analysis.called.is_set)
    worker.analysis.release.set()
    wait_until(lambda: status(connection, kept) == "Processed")
    assert [request[0] for request in worker.analysis.requests] == ["http://c.example/v"]
    assert status(connection, cancelled) == "Cancelled" and status(connection, deleted) is None


def test_a_job_queued_twice_runs_once(make_worker, connection):
    job_id = queued_job(connection)
    worker = make_worker()
    worker.analysis.release.set()
    worker.enqueue(job_id)
    worker.enqueue(job_id)  # e.g. a retry and a restart both queued it
    wait_until(lambda: worker.jobs.unfinished_tasks == 0)
    assert status(connection, job_id) == "Processed" and len(worker.analysis.requests) == 1


# --- cancel and delete while running ---------------------------------------------------------------

def test_cancel_stops_the_running_analysis_and_a_fresh_one_starts(make_worker, connection):
    job_id = queued_job(connection)
    worker = make_worker()
    worker.enqueue(job_id)
    wait_until(worker.analysis.called.is_set)
    assert status(connection, job_id) == "Downloading"
    started = time.monotonic()
    jobs.cancel(connection, worker, job_id)
    wait_until(lambda: status(connection, job_id) == "Cancelled")
    assert time.monotonic() - started < 1.0
    assert worker.analysis.stops == 1 and worker.analysis.starts == 2  # killed, and a fresh one warms up
    job = db.get_job(connection, job_id)
    assert (job["step"], job["error"]) == ("cancelled", None)


def test_delete_of_the_running_job_stops_it_then_removes_rows_and_folders(make_worker, connection, settings):
    job_id = queued_job(connection)
    worker = make_worker()
    worker.enqueue(job_id)
    wait_until(worker.analysis.called.is_set)
    job_dir(settings, job_id).mkdir(parents=True, exist_ok=True)
    (job_dir(settings, job_id) / "video.mp4.part").write_bytes(b"half")
    jobs.delete(connection, worker, [job_id])  # returns once it is done
    assert db.get_job(connection, job_id) is None and not job_dir(settings, job_id).exists()
    assert worker.analysis.stops == 1
    other = queued_job(connection, "http://example.com/next")  # the worker goes on with the next job
    worker.analysis.release.set()
    worker.enqueue(other)
    wait_until(lambda: status(connection, other) == "Processed")


def test_a_delete_of_another_job_is_served_while_one_runs(make_worker, connection, settings):
    running, other = queued_job(connection), queued_job(connection, "http://example.com/other")
    db.set_job_status(connection, other, "Error", error="boom")
    job_dir(settings, other).mkdir(parents=True)
    worker = make_worker()
    worker.enqueue(running)
    wait_until(worker.analysis.called.is_set)
    jobs.delete(connection, worker, [other])
    assert db.get_job(connection, other) is None and not job_dir(settings, other).exists()
    assert status(connection, running) == "Downloading" and worker.analysis.stops == 0


def test_shutdown_leaves_the_running_job_to_resume_at_the_next_start(make_worker, connection):
    job_id = queued_job(connection)
    first = make_worker()
    first.enqueue(job_id)
    wait_until(first.analysis.called.is_set)
    first.stop()
    assert status(connection, job_id) == "Downloading" and first.analysis.stops >= 1
    second = make_worker()
    second.analysis.release.set()
    wait_until(lambda: status(connection, job_id) == "Processed")
    assert len(second.analysis.requests) == 1


def test_a_failed_job_keeps_the_step_it_failed_in(make_worker, connection):
    class FailsInTranscription(StandIn):
        def call(self, request, on_message, should_stop):
            on_message("progress", "transcribe", 0.3, "9/30 s")
            raise MediaError("The audio could not be read.")

    job_id = queued_job(connection)
    worker = make_worker(analysis=FailsInTranscription())
    worker.enqueue(job_id)
    wait_until(lambda: status(connection, job_id) == "Error")
    job = db.get_job(connection, job_id)
    assert (job["step"], job["error"]) == ("transcribe", "The audio could not be read.")


# --- clips ---------------------------------------------------------------------------------------

def test_deleting_a_job_stops_its_cut_before_removing_its_files(make_worker, connection, settings):
    job_id, clip_id = processed_job_with_clip(connection, settings)
    worker = make_worker()
    worker.enqueue_clip(clip_id)
    wait_until(worker.cutter.called.is_set)
    clips_dir(settings, job_id).mkdir(parents=True)
    (clips_dir(settings, job_id) / f"clip-{clip_id}.part.mp4").write_bytes(b"half")  # as ffmpeg would
    jobs.delete(connection, worker, [job_id])
    assert worker.cutter.stops == 1 and worker.cutter.starts == 2
    assert db.get_clip(connection, clip_id) is None
    worker.cutter.release.set()
    time.sleep(0.1)  # nothing writes the folder back
    assert not clips_dir(settings, job_id).exists() and not job_dir(settings, job_id).exists()


@pytest.mark.parametrize("failure, reason", [
    (MediaError("Cutting the clip failed: the disk is full (no space left on device)."), "the disk is full"),
    (RuntimeError("something nobody expected"), "Unexpected error (RuntimeError): something nobody expected"),
])
def test_a_clip_that_fails_ends_failed_with_a_reason(make_worker, connection, settings, failure, reason):
    def raise_it(request):
        raise failure

    job_id, clip_id = processed_job_with_clip(connection, settings)
    worker = make_worker(cutter=StandIn(raise_it))
    worker.cutter.release.set()
    worker.enqueue_clip(clip_id)
    wait_until(lambda: db.get_clip(connection, clip_id)["status"] != "Creating")
    clip = db.get_clip(connection, clip_id)
    assert clip["status"] == "Failed" and reason in clip["error"]


def test_a_clip_cut_at_shutdown_is_cut_after_the_restart(make_worker, connection, settings):
    job_id, clip_id = processed_job_with_clip(connection, settings)
    first = make_worker()
    first.enqueue_clip(clip_id)
    wait_until(first.cutter.called.is_set)
    first.stop()
    assert first.cutter.stops >= 1 and db.get_clip(connection, clip_id)["status"] == "Creating"
    second = make_worker()
    second.cutter.release.set()
    wait_until(lambda: db.get_clip(connection, clip_id)["status"] == "Created")
    assert (clips_dir(settings, job_id) / f"clip-{clip_id}.mp4").read_bytes() == b"clip"


def test_a_clip_that_cannot_be_written_fails_with_a_reason(make_worker, connection, settings, media_dir):
    """The real clip process: its folder is taken by a file, so the cut raises OSError."""
    from supervised import ChildProcess
    from config import ROOT

    job_id, clip_id = processed_job_with_clip(connection, settings)
    db.set_job_video(connection, job_id, {"title": "t", "duration": 8.0, "path": str(media_dir / "short.mp4")})
    settings.processed_clips_dir.mkdir(parents=True)
    clips_dir(settings, job_id).write_text("a file where the clip folder should be")
    worker = make_worker(cutter=ChildProcess("clip", ROOT / "clip_process.py"))
    worker.enqueue_clip(clip_id)
    wait_until(lambda: db.get_clip(connection, clip_id)["status"] != "Creating", timeout=60)
    clip = db.get_clip(connection, clip_id)
    assert clip["status"] == "Failed" and "Could not read or write a file" in clip["error"], clip["error"]


# --- who runs a worker ---------------------------------------------------------------------------

def test_create_app_starts_no_worker(tmp_path):
    """A shell or a test building the app runs no jobs: only `python app.py` does."""
    from app import create_app

    app = create_app({"DATABASE_PATH": str(tmp_path / "instance" / "videos.db"),
                      "DOWNLOAD_DIR": str(tmp_path / "downloads"), "PROCESSED_CLIPS_DIR": str(tmp_path / "clips"),
                      "ALLOW_PRIVATE_URLS": "1"})
    response = app.test_client().post("/api/jobs", json={"url": "http://example.com/v"})
    assert response.status_code == 201
    time.sleep(0.3)
    assert not [t for t in threading.enumerate() if t.name in ("job-worker", "clip-worker")]
    assert app.extensions["worker"].analysis.pid is None
    assert response.get_json()["jobs"][0]["status"] == "Queued"


def test_a_second_app_on_the_same_folder_refuses_to_start(tmp_path):
    from tests.conftest import REPO, LiveServer

    first = LiveServer(tmp_path / "app").start()
    try:
        second = LiveServer(tmp_path / "app")
        done = subprocess.run([sys.executable, str(REPO / "app.py")], cwd=REPO, env=second.env,
                              capture_output=True, text=True, timeout=120)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 3 and len(lines) == 1, done.stderr
        assert "Another instance" in lines[0] and str(tmp_path / "app" / "instance") in lines[0]
        assert f"pid {first.process.pid}" in lines[0]
        assert "Serving on" not in done.stdout
    finally:
        first.stop()
    # Once the first has stopped, the folder is free again.
    again = LiveServer(tmp_path / "app").start()
    again.stop()


# --- a playlist's group, an upload --------------------------------------------------------------------

def queued_group(connection, count: int = 3) -> tuple[int, list[int]]:
    group_id = db.create_group(connection, "http://example.com/list", "A list", count, None, False)
    job_ids = [db.create_job(connection, f"http://example.com/{n}", "720p", group_id=group_id) for n in range(count)]
    for job_id in job_ids:
        db.set_job_status(connection, job_id, "Queued", step="queued")
    return group_id, job_ids


@pytest.mark.parametrize("action", ["cancel", "delete"])
def test_stopping_a_group_while_one_of_its_videos_runs_starts_none_of_the_others(make_worker, connection, action):
    group_id, job_ids = queued_group(connection)
    worker = make_worker()
    for job_id in job_ids:
        worker.enqueue(job_id)
    wait_until(worker.analysis.called.is_set)
    getattr(jobs, f"{action}_group")(connection, worker, group_id)
    if action == "cancel":
        wait_until(lambda: [status(connection, job_id) for job_id in job_ids] == ["Cancelled"] * 3)
    else:  # returns once all are gone, the group with them
        assert [status(connection, job_id) for job_id in job_ids] == [None] * 3
        assert db.get_group(connection, group_id) is None
    wait_until(lambda: worker.jobs.unfinished_tasks == 0)
    assert len(worker.analysis.requests) == 1 and worker.analysis.stops == 1


def test_an_upload_is_analysed_from_its_job_folder(make_worker, connection, settings):
    job_id = db.create_job(connection, "Garden talk.mp4", "best", uploaded=True)
    db.set_job_status(connection, job_id, "Queued", step="queued")
    worker = make_worker()
    worker.analysis.release.set()
    worker.enqueue(job_id)
    wait_until(lambda: status(connection, job_id) == "Processed")
    source, folder, _options = worker.analysis.requests[0]
    assert source == str(job_dir(settings, job_id) / "upload" / "Garden talk.mp4") and folder == str(job_dir(settings, job_id))
