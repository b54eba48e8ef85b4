"""The background worker: the job thread owns every job's life cycle; the clip thread cuts clips.

The job thread claims a job, has the analysis process run it, cancels it and deletes it with its
files; the web side only asks. Analyses and cuts run in child processes (supervised.py), so a
cancel, a delete or a shutdown stops them within a second, whatever stage they are in. The listing
process lists playlists for the web side (list_playlist), behind the same address guard as downloads.
"""
from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import db
import settings_store
from config import ROOT
from events import Broadcaster
from pipeline.errors import Cancelled, PipelineError
from pipeline.media import Caption
from supervised import ChildProcess

log = logging.getLogger(__name__)

STATUS_FOR_STAGE = {"download": "Downloading"}  # every later stage is "Processing"
PROGRESS_INTERVAL = 0.5  # seconds between progress writes within one stage
POLL_SECONDS = 0.1  # how often an idle job thread looks for requests
DELETE_TIMEOUT = 60  # seconds a page waits for the job thread to delete a job
STOP_CUT_TIMEOUT = 30  # seconds a delete waits for a stopped cut to end
LISTING_TIMEOUT = 60  # seconds a playlist may take to list (and a request waits for its turn)


def job_dir(settings, job_id: int) -> Path:
    return settings.download_dir / str(job_id)


def uploaded_file(settings, job_id: int, name: str) -> Path:
    """Where an uploaded file lies: in its job's folder, where the download stage takes it from."""
    return job_dir(settings, job_id) / "upload" / Path(name).name


def clips_dir(settings, job_id: int) -> Path:
    return settings.processed_clips_dir / str(job_id)


def _analysis_setup(settings) -> tuple:
    """What the analysis process starts with: the options its Whisper model warms up for, and the
    address policy it installs (netguard), both once per process."""
    return settings.analysis_options(), settings.address_policy()


def _loaded_once(setup) -> tuple:
    """The part of a setup that takes a fresh analysis process to change."""
    options, policy = setup
    return options.whisper_model, options.compute_type, options.device, policy


def _remove_tree(folder: Path, root: Path) -> None:
    """Delete a job's folder, and only if it really lies inside the configured root."""
    folder, root = folder.resolve(), root.resolve()
    if folder.parent == root and folder.is_dir():
        shutil.rmtree(folder)


@dataclass
class _Request:
    """Something the web side asks of the job thread: "cancel" or "delete" a job."""
    action: str
    job_id: int
    done: threading.Event = field(default_factory=threading.Event)


class Worker:
    """The job and clip threads; `analysis`, `cutter` and `lister` run the work (child processes unless
    a test gives stand-ins with the same `start`, `call` and `stop`)."""

    def __init__(self, settings, broadcaster: Broadcaster, analysis=None, cutter=None, lister=None):
        self.settings = settings
        self.broadcaster = broadcaster
        self.analysis = analysis or ChildProcess("analysis", ROOT / "analysis_process.py", _analysis_setup(settings))
        self.cutter = cutter or ChildProcess("clip", ROOT / "clip_process.py")
        self.lister = lister or ChildProcess("listing", ROOT / "listing_process.py", settings.address_policy())
        self._listing = threading.Lock()  # the listing process lists one playlist at a time
        self.jobs: queue.Queue[int] = queue.Queue()
        self.clips: queue.Queue[int] = queue.Queue()
        self.exit_event = threading.Event()
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._running_job: int | None = None
        self._for_running_job: list[_Request] = []  # carried out once its analysis has stopped
        self._cut = threading.Condition()  # guards the two fields below
        self._cutting_job: int | None = None  # the job whose clip the clip thread is cutting
        self._deleting_job: int | None = None  # the job being deleted: its cuts stop, and none start
        self._threads: list[threading.Thread] = []

    # --- life cycle ---------------------------------------------------------

    def start(self, keep_fds: tuple[int, ...] = ()) -> None:
        """Queue again what a previous run left unfinished, start the child processes, then the threads.

        `keep_fds` stay open in the child processes (the data folder's lock).
        """
        connection = db.connect(self.settings.database_path)
        try:
            for job_id in db.unfinished_job_ids(connection):
                job = db.get_job(connection, job_id)
                db.set_job_progress(connection, job_id, "Queued", job["step"] or "queued", job["progress"],
                                    "resuming after restart")
                self.jobs.put(job_id)
            for clip_id in db.unfinished_clip_ids(connection):
                self.clips.put(clip_id)
            self.analysis.setup = _analysis_setup(settings_store.current(self.settings, connection))
        finally:
            connection.close()
        self.analysis.start(keep_fds)  # warms up while the threads start
        self.cutter.start(keep_fds)
        for name, target in (("job-worker", self._job_loop), ("clip-worker", self._clip_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the threads and kill the child processes; running work resumes at the next start."""
        self.exit_event.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.analysis.stop()
        self.cutter.stop()
        with self._listing:
            self.lister.stop()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    # --- requests from the web side -----------------------------------------

    def enqueue(self, job_id: int) -> None:
        self.jobs.put(job_id)

    def enqueue_clip(self, clip_id: int) -> None:
        self.clips.put(clip_id)

    def cancel(self, job_id: int) -> None:
        """Ask the job thread to cancel the job if it is running it (a waiting job is cancelled in the database)."""
        self._requests.put(_Request("cancel", job_id))

    def delete(self, connection, job_ids: list[int]) -> bool:
        """Have the jobs deleted with their rows and files (a running one is cancelled first); False on
        timeout. All are asked at once: the job thread deletes them in one go (a playlist's fifty)."""
        if not self.running:  # no thread runs anything: nothing to stop, so delete here
            for job_id in job_ids:
                self._delete(connection, job_id)
            return True
        requests = [_Request("delete", job_id) for job_id in job_ids]
        for request in requests:
            self._requests.put(request)
        deadline = time.monotonic() + DELETE_TIMEOUT
        return all(request.done.wait(max(deadline - time.monotonic(), 0)) for request in requests)

    def list_playlist(self, url: str, limit: int):
        """The first `limit` videos of a playlist or channel (pipeline.playlist.Playlist), listed in the
        listing process; PipelineError says why not (a listing that takes too long is stopped)."""
        if not self._listing.acquire(timeout=LISTING_TIMEOUT):
            raise PipelineError("Other playlists are being listed; try again in a minute.")
        try:
            deadline = time.monotonic() + LISTING_TIMEOUT
            return self.lister.call((url, limit), lambda *message: None,
                                    lambda: time.monotonic() > deadline or self.exit_event.is_set())
        except Cancelled:
            raise PipelineError(f"Listing the playlist took longer than {LISTING_TIMEOUT} s and was stopped; "
                                "try again, or add its videos' own addresses.") from None
        finally:
            self._listing.release()

    def announce_job(self, connection, job_id: int) -> None:
        """Wake the live streams with the job as just saved (None once it is deleted)."""
        row = db.get_job(connection, job_id)
        self.broadcaster.announce("job", job_id, dict(row) if row is not None else None)

    # --- the threads ------------------------------------------------------------

    def _drain(self, items: queue.Queue, handle, what: str, between=None) -> None:
        """Handle queued ids one at a time until shutdown; the loop survives anything a handler does.

        `between(connection)` runs whenever the thread is free (at least every POLL_SECONDS).
        """
        connection = db.connect(self.settings.database_path)
        try:
            while not self.exit_event.is_set():
                if between:
                    between(connection)
                try:
                    item_id = items.get(timeout=POLL_SECONDS)
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

    def _job_loop(self) -> None:
        self._drain(self.jobs, self._run_job, "job", between=self._serve_requests)

    def _serve_requests(self, connection) -> None:
        """Carry out what the web side asked; what concerns the running job waits until it has stopped."""
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if request.job_id == self._running_job:
                self._for_running_job.append(request)
                continue
            if request.action == "delete":
                self._delete(connection, request.job_id)
            request.done.set()  # a cancel of a job that is not running has nothing left to stop

    def _must_stop(self, connection) -> bool:
        self._serve_requests(connection)
        return self.exit_event.is_set() or bool(self._for_running_job)

    def _run_job(self, connection, job_id: int) -> None:
        if not db.claim_job(connection, job_id):
            return  # cancelled, deleted or already run while it waited
        self.announce_job(connection, job_id)
        job = db.get_job(connection, job_id)
        settings = settings_store.current(self.settings, connection)  # the Settings page's changes apply from here
        self._restart_analysis_if_changed(settings)
        options = settings.analysis_options(
            resolution=job["resolution"], num_speakers=job["num_speakers"],
            min_speakers=job["min_speakers"], max_speakers=job["max_speakers"])
        source = str(uploaded_file(self.settings, job_id, job["url"])) if job["uploaded"] else job["url"]
        self._running_job = job_id
        try:
            result = self.analysis.call((source, str(job_dir(self.settings, job_id)), options),
                                        self._progress_saver(connection, job_id), lambda: self._must_stop(connection))
            db.save_result(connection, job_id, result)
        except Cancelled:
            self._stopped(connection, job_id)
            return
        except PipelineError as error:
            db.fail_job(connection, job_id, str(error))
        except Exception as error:
            log.exception("job %s failed unexpectedly", job_id)
            db.fail_job(connection, job_id, f"Unexpected error ({type(error).__name__}): {error}")
        finally:
            self._running_job = None
        self.announce_job(connection, job_id)

    def _restart_analysis_if_changed(self, settings) -> None:
        """A Whisper model or an address policy changed on the Settings page takes a fresh analysis
        process: it loads the new model (the old one's memory goes with the old process) and checks
        addresses with the new policy."""
        setup = _analysis_setup(settings)
        if _loaded_once(setup) != _loaded_once(self.analysis.setup):
            self.analysis.stop()
            self.analysis.setup = setup
            self.analysis.start()

    def _progress_saver(self, connection, job_id: int):
        """The analysis's messages, saved first and then announced (progress at most every half second)."""
        last = {"stage": None, "time": 0.0}

        def on_message(kind: str, *payload) -> None:
            if kind == "video":
                db.set_job_video(connection, job_id, payload[0])
                return
            stage, fraction, detail = payload
            now = time.monotonic()
            if stage == last["stage"] and fraction < 1.0 and now - last["time"] < PROGRESS_INTERVAL:
                return
            last.update(stage=stage, time=now)
            db.set_job_progress(connection, job_id, STATUS_FOR_STAGE.get(stage, "Processing"),
                                stage, round(fraction, 3), detail)
            self.announce_job(connection, job_id)

        return on_message

    def _stopped(self, connection, job_id: int) -> None:
        """The analysis was killed: for a shutdown (the job resumes at the next start), a cancel or a delete."""
        if self.exit_event.is_set():
            return
        self.analysis.start()  # a fresh process warms up for the next job, off the request path
        if not any(request.action == "delete" for request in self._for_running_job):
            db.set_job_status(connection, job_id, "Cancelled", step="cancelled", detail="Cancelled by the user.")
            self.announce_job(connection, job_id)
        self._serve_running_job_requests(connection)

    def _serve_running_job_requests(self, connection) -> None:
        for request in self._for_running_job:
            if request.action == "delete":
                self._delete(connection, request.job_id)
            request.done.set()
        self._for_running_job.clear()

    def _delete(self, connection, job_id: int) -> None:
        """Delete the job's rows and folders; a cut of its clips is stopped first."""
        with self._cut:  # no cut of this job starts (or still runs) while its rows and files go
            self._deleting_job = job_id
            self._cut.wait_for(lambda: self._cutting_job != job_id, timeout=STOP_CUT_TIMEOUT)
            db.delete_job(connection, job_id)
            db.delete_unused_people(connection)
            self._deleting_job = None
        _remove_tree(job_dir(self.settings, job_id), self.settings.download_dir)
        _remove_tree(clips_dir(self.settings, job_id), self.settings.processed_clips_dir)
        self.announce_job(connection, job_id)

    # --- the clip thread ------------------------------------------------------

    def _clip_loop(self) -> None:
        self._drain(self.clips, self._cut_clip, "clip")

    def _cut_clip(self, connection, clip_id: int) -> None:
        """Cut one clip; whatever goes wrong ends it as Failed with a reason, except a shutdown
        (it stays Creating and is cut after the restart) and a delete (it is gone)."""
        with self._cut:
            clip = db.get_clip(connection, clip_id)
            if clip is None or clip["status"] != "Creating" or clip["job_id"] == self._deleting_job:
                return
            job = db.get_job(connection, clip["job_id"])
            self._cutting_job = job["id"]
        try:
            captions = None
            if clip["captions"]:
                names = db.speaker_names(connection, job["id"])  # a named speaker's lines say who speaks
                captions = [Caption(s["start"], s["end"], f"{names[s['speaker']]}: {s['text']}" if s["speaker"] in names
                                    else s["text"]) for s in db.segments_for(connection, job["id"])]
            filename = f"clip-{clip_id}.mp4"
            video = job_dir(self.settings, job["id"]) / Path(job["video_path"]).name  # the install may have moved
            request = (str(video), clip["start"], clip["end"],
                       str(clips_dir(self.settings, job["id"]) / filename), captions, bool(clip["vertical"]),
                       self.settings.ffmpeg_path or None)
            self.cutter.call(request, lambda *message: None,
                             lambda: self._deleting_job == job["id"] or self.exit_event.is_set())
            db.finish_clip(connection, clip_id, filename)
        except Cancelled:
            if not self.exit_event.is_set():
                self.cutter.start()
            return
        except PipelineError as error:
            db.finish_clip(connection, clip_id, None, error=str(error))
        except Exception as error:
            log.exception("clip %s failed unexpectedly", clip_id)
            db.finish_clip(connection, clip_id, None, error=f"Unexpected error ({type(error).__name__}): {error}")
        finally:
            with self._cut:
                self._cutting_job = None
                self._cut.notify_all()
        self.broadcaster.announce("clip", clip_id)
