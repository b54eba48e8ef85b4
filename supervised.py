"""Child processes the worker owns: each in its own process group, stopped by killing that group,
and dying with the app even when the app itself is killed outright (SIGKILL).

A child is a Python program serving requests one at a time over a pipe. Stopping it kills the
program together with every ffmpeg (or anything else) it started, whatever stage it is in, so a
cancel takes effect at once and nothing is orphaned. The parent side is `ChildProcess`; the child
side is `serve()`.
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

from pipeline.errors import Cancelled, PipelineError

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 1.0  # between SIGTERM and SIGKILL of a stopped child's group
POLL_SECONDS = 0.1  # how often a waiting call asks whether to stop
# Children do the background work (analysis, cutting) and run this many steps below the app's
# priority, with everything they start: the pages stay fast while a job runs, and the job loses
# nothing when nobody is using them (see bench/load.py).
BACKGROUND_NICENESS = 10


class ChildProcess:
    """The parent's handle on one child program (`script`), started in a new session.

    `setup` is sent to the child first (it may prepare, e.g. load models, before the first request).
    """

    def __init__(self, name: str, script: Path, setup=None):
        self.name = name
        self.script = script
        self.setup = setup
        self._keep_fds: tuple[int, ...] = ()
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._lifeline: int | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, keep_fds: tuple[int, ...] | None = None) -> None:
        """Start the child (it prepares in the background).

        `keep_fds` stay open in the child, and in the children started after it: the data folder's
        lock, so the folder stays locked until every process of this app is gone.
        """
        if keep_fds is not None:
            self._keep_fds = tuple(keep_fds)
        if self._process is not None:
            return
        parent_end, child_end = Pipe()
        # The child blocks reading this pipe; it ends (EOF) when the parent is gone, however it died.
        lifeline_read, lifeline_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, str(self.script), str(child_end.fileno()), str(lifeline_read)],
                pass_fds=(child_end.fileno(), lifeline_read, *self._keep_fds),
                start_new_session=True, stdin=subprocess.DEVNULL)
        except BaseException:
            parent_end.close()
            os.close(lifeline_write)
            raise
        finally:
            child_end.close()
            os.close(lifeline_read)
        self._connection, self._lifeline = parent_end, lifeline_write
        self._connection.send(self.setup)
        log.info("%s process %s started", self.name, self._process.pid)

    def call(self, request, on_message: Callable[..., None], should_stop: Callable[[], bool]):
        """Send one request and wait for its answer, passing every other message to `on_message`.

        Raises Cancelled (the child is then killed, not restarted) as soon as `should_stop()` is true,
        and PipelineError with the child's message when the request failed or the child died.
        """
        if self._process is not None and self._process.poll() is not None:
            self.stop()  # it died while idle: start a fresh one
        self.start()
        try:
            self._connection.send(request)
        except OSError:
            self._died()
        try:
            kind, answer = self._wait(on_message, should_stop)
        except BaseException:
            self.stop()  # cancelled, dead, or on_message failed: a late answer must not reach the next request
            raise
        if kind == "failed":
            raise PipelineError(answer)
        return answer

    def _wait(self, on_message, should_stop) -> tuple[str, object]:
        """Pass messages on until the answer ("done" or "failed") comes."""
        while True:
            if should_stop():
                raise Cancelled()
            try:
                if not self._connection.poll(POLL_SECONDS):
                    continue
                kind, *payload = self._connection.recv()
            except (EOFError, OSError):
                self._died()
            if kind in ("done", "failed"):
                return kind, payload[0]
            on_message(kind, *payload)

    def _died(self):
        process = self._process
        self.stop()
        code = process.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        raise PipelineError(f"The {self.name} process stopped unexpectedly ({how}); try again.") from None

    def stop(self) -> None:
        """Kill the child's process group: SIGTERM, then SIGKILL a second later for anything left.

        Its pipes are taken first, in one step: a start() on another thread while the kill waits
        makes new ones, which this stop must not close."""
        process, connection, lifeline = self._process, self._connection, self._lifeline
        self._process = self._connection = self._lifeline = None
        if process is None:
            return
        kill_group(process)
        connection.close()
        os.close(lifeline)
        log.info("%s process %s stopped", self.name, process.pid)


def kill_group(process: subprocess.Popen) -> None:
    """Kill the process group led by `process` (started with start_new_session) and reap the leader.

    The group id cannot be reused while any member is alive, so the late SIGKILL reaches only
    what is left of this group.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    process.wait()


# --- the child's side ------------------------------------------------------------------------

def _die_with_parent(lifeline: int) -> None:
    """Wait until the parent's end of the lifeline closes (it stopped or was killed), then kill
    this whole process group, ffmpeg and all."""
    while os.read(lifeline, 1):
        pass
    os.killpg(0, signal.SIGKILL)


def serve(prepare: Callable) -> None:
    """Run as the child: `prepare(setup)` returns the handler; then answer requests until the pipe closes.

    The handler gets (request, send) and returns the answer; `send(kind, ...)` passes messages
    (progress, ...) to the parent while it works.
    """
    connection, lifeline = Connection(int(sys.argv[1])), int(sys.argv[2])
    os.nice(BACKGROUND_NICENESS)
    threading.Thread(target=_die_with_parent, args=(lifeline,), name="lifeline", daemon=True).start()
    try:
        handle = prepare(connection.recv())
    except EOFError:
        return
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        try:
            connection.send(("done", handle(request, lambda *message: connection.send(message))))
        except PipelineError as error:
            connection.send(("failed", str(error)))
        except OSError as error:
            traceback.print_exc()
            connection.send(("failed", describe_os_error(error)))
        except Exception as error:
            traceback.print_exc()
            connection.send(("failed", f"Unexpected error ({type(error).__name__}): {error}"))


def describe_os_error(error: OSError) -> str:
    """A file-system error as one line for a person (a full disk says so)."""
    if error.errno == errno.ENOSPC:
        return "The disk is full (no space left on device); free some space and retry."
    where = f" ({error.filename})" if error.filename else ""
    return f"Could not read or write a file: {error.strerror or error}{where}."
