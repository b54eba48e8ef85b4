"""One app per data folder: an exclusive lock on a file in the instance folder while the app runs.

Two apps on one folder would both run the queued jobs and write the same files. The lock belongs
to the open file, so it lasts until every process holding it (the app and its child processes)
is gone, and the system releases it however they end.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = "app.lock"
# A restart right after a crash may find the old instance's child processes still dying.
WAIT_SECONDS = 5.0


class AlreadyRunning(Exception):
    """Another app holds the folder; the message says so in one line."""


def lock_data_folder(instance_dir: Path, wait: float = WAIT_SECONDS) -> int:
    """Take the folder's lock for as long as this process lives; returns the lock's file descriptor."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(instance_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise AlreadyRunning(f"Another instance (pid {holder}) is already running on {instance_dir}; "
                                     "stop it first, or give this one its own DATABASE_PATH, DOWNLOAD_DIR and "
                                     "PROCESSED_CLIPS_DIR.") from None
            time.sleep(0.1)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
