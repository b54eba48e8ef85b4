"""The background worker: one thread drains the job queue in order; a second cuts clips."""
from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import time
import traceback
from pathlib import Path

import db
import settings_store
from events import Broadcaster
from pipeline import media, run
from pipeline.errors import Cancelled, PipelineError

log = logging.getLogger(__name__)

STATUS_FOR_STAGE = {"download": "Downloading"}  # every later stage is "Processing"
PROGRESS_INTERVAL = 0.5  # seconds between progress writes within one stage
# The analysis runs at a lower CPU priority than the web threads, so pages stay quick while a job
# runs. Set on the job thread before any model loads: the model's compute threads and ffmpeg inherit it.
JOB_NICENESS = 10


def job_dir(settings, job_id: int) -> Path:
    return settings.download_dir / str(job_id)


def clips_dir(settings, job_id: int) -> Path:
    return settings.processed_clips_dir / str(job_id)


def _lower_thread_priority(niceness: int) -> None:
    """Make the calling thread (and the threads and processes it starts) yield the CPU; Linux only."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere PRIO_PROCESS with a thread id would name a process
    try:
        thread_id = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread_id, max(os.getpriority(os.PRIO_PROCESS, thread_id), niceness))
    except OSError as error:
        log.info("could not lower the job thread's priority: %s", error)


class Worker:
    def __init__(self, settings, broadcaster: Broadcaster):
        self.settings = settings
        self.broadcaster = broadcaster
        self.jobs: queue.Queue[int] = queue.Queue()
        self.clips: queue.Queue[int] = queue.Queue()
        self.exit_event = threading.Event()
        self.current_job_id: int | None = None
        self._cancel_requested: set[int] = set()
        self._idle = threading.Condition()
        self._threads: list[threading.Thread] = []

    # --- life cycle ---------------------------------------------------------

    def start(self, warm_up: bool = True) -> None:
        """Queue again what a previous run left unfinished, then start the threads."""
        connection = db.connect(self.settings.database_path)
        try:
            for job_id in db.unfinished_job_ids(connection):
                job = db.get_job(connection, job_id)
                db.set_job_progress(connection, job_id, "Queued", job["step"] or "queued", job["progress"],
                                    "resuming after restart")
                self.jobs.put(job_id)
            for clip_id in db.unfinished_clip_ids(connection):
                self.clips.put(clip_id)
        finally:
            connection.close()
        for name, target in (("job-worker", self._job_loop), ("clip-worker", self._clip_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True, args=(warm_up,) if name == "job-worker" else ())
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.exit_event.set()
        for thread in self._threads:
            thread.join(timeout=5)

    # --- requests from the web side -----------------------------------------

    def enqueue(self, job_id: int) -> None:
        self.jobs.put(job_id)

    def enqueue_clip(self, clip_id: int) -> None:
        self.clips.put(clip_id)

    def cancel_running(self, job_id: int, wait: float = 0.0) -> bool:
        """Ask the running job to stop; with `wait`, block until it has. False if it is not running."""
        with self._idle:
            if self.current_job_id != job_id:
                return False
            self._cancel_requested.add(job_id)
            if wait:
                self._idle.wait_for(lambda: self.current_job_id != job_id, timeout=wait)
        return True

    def _drain(self, items: queue.Queue, handle, what: str) -> None:
        """Handle queued ids one at a time until shutdown; the loop survives anything a handler does."""
        connection = db.connect(self.settings.database_path)
        try:
            while not self.exit_event.is_set():
                try:
                    item_id = items.get(timeout=1.0)
                except queue.Empty:
                    continue
                try:
                    handle(connection, item_id)
                except Exception:
                    log.exception("%s %s failed unexpectedly", what, item_id)
                finally:
                    items.task_done()
        finally:
            connection.close()

    # --- the job thread ------------------------------------------------------

    def _job_loop(self, warm_up: bool) -> None:
        _lower_thread_priority(JOB_NICENESS)
        if warm_up:
            self._warm_up()
        self._drain(self.jobs, self._run_job, "job")

    def _warm_up(self) -> None:
        """Load the models before the first job so it pays no start-up cost."""
        from pipeline import diarize, transcribe
        try:
            transcribe.load_model(settings_store.current(self.settings).analysis_options())
            diarize.warm_up()
        except Exception as error:  # a job will report the same problem readably
            log.warning("warm-up failed: %s", error)

    def announce_job(self, connection, job_id: int) -> None:
        """Wake the live streams with the job as just saved (None once it is deleted)."""
        row = db.get_job(connection, job_id)
        self.broadcaster.announce("job", job_id, dict(row) if row is not None else None)

    def _run_job(self, connection, job_id: int) -> None:
        job = db.get_job(connection, job_id)
        if job is None or job["status"] not in db.UNFINISHED_STATUSES:
            return  # deleted or cancelled while it waited
        with self._idle:
            self.current_job_id = job_id
        try:
            self._analyze(connection, job)
        finally:
            with self._idle:
                self.current_job_id = None
                self._cancel_requested.discard(job_id)
                self._idle.notify_all()

    def _analyze(self, connection, job) -> None:
        """Run the pipeline for a claimed job, saving progress first and then announcing it."""
        job_id = job["id"]
        # Read per job: settings changed on the Settings page apply from the next job.
        options = settings_store.current(self.settings, connection).analysis_options(
            resolution=job["resolution"], num_speakers=job["num_speakers"],
            min_speakers=job["min_speakers"], max_speakers=job["max_speakers"])
        last = {"stage": None, "time": 0.0}

        def progress(stage: str, fraction: float, detail: str = "") -> None:
            if job_id in self._cancel_requested or self.exit_event.is_set():
                raise Cancelled()
            now = time.monotonic()
            if stage == last["stage"] and fraction < 1.0 and now - last["time"] < PROGRESS_INTERVAL:
                return
            last.update(stage=stage, time=now)
            db.set_job_progress(connection, job_id, STATUS_FOR_STAGE.get(stage, "Processing"),
                                stage, round(fraction, 3), detail)
            if stage == "audio" and fraction == 0.0:
                self._save_video_info(connection, job_id)
            self.announce_job(connection, job_id)

        db.set_job_progress(connection, job_id, "Downloading", "download", 0.0, "starting")
        self.announce_job(connection, job_id)
        try:
            result = run.analyze(job["url"], job_dir(self.settings, job_id), options, progress)
            db.save_result(connection, job_id, result)
        except Cancelled:
            if self.exit_event.is_set():
                return  # shutting down: the job stays unfinished and resumes at the next start
            db.set_job_status(connection, job_id, "Cancelled", step="cancelled", detail="Cancelled by the user.")
        except PipelineError as error:
            db.set_job_status(connection, job_id, "Error", step="failed", error=str(error))
        except Exception as error:
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            db.set_job_status(connection, job_id, "Error", step="failed",
                              error=f"Unexpected error ({type(error).__name__}): {error}")
        self.announce_job(connection, job_id)

    def _save_video_info(self, connection, job_id: int) -> None:
        """Show the real title as soon as the download is done."""
        saved = job_dir(self.settings, job_id) / "video.json"
        if saved.is_file():
            video = json.loads(saved.read_text(encoding="utf-8"))
            db.set_job_video(connection, job_id, {**video, "path": str(saved.parent / video["path"])})

    # --- the clip thread ------------------------------------------------------

    def _clip_loop(self) -> None:
        self._drain(self.clips, self._cut, "clip")

    def _cut(self, connection, clip_id: int) -> None:
        clip = db.get_clip(connection, clip_id)
        if clip is None or clip["status"] != "Creating":
            return
        job = db.get_job(connection, clip["job_id"])
        filename = f"clip-{clip_id}.mp4"
        captions = None
        if clip["captions"]:
            captions = [media.Caption(s["start"], s["end"], s["text"]) for s in db.segments_for(connection, job["id"])]
        try:
            media.cut_clip(job["video_path"], clip["start"], clip["end"], clips_dir(self.settings, job["id"]) / filename,
                           captions=captions, vertical=bool(clip["vertical"]),
                           ffmpeg_path=self.settings.ffmpeg_path or None)
            db.finish_clip(connection, clip_id, filename)
        except PipelineError as error:
            db.finish_clip(connection, clip_id, None, error=str(error))
        self.broadcaster.announce("clip", clip_id)
