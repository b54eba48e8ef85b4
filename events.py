"""Announcements of saved changes: the worker saves first, then wakes the live streams."""
from __future__ import annotations

import threading
import time
from collections import deque


class Broadcaster:
    """A version counter with the recent changes; streams wait for a version newer than theirs.

    A change may carry a snapshot of the saved row, taken when it was announced, so a stream that
    wakes late still sends every state in order (a short Downloading stage is not skipped).

    Positions (the streams' event ids, and where a page was rendered) read `<boot>-<version>`: the
    version starts again at 0 when the app restarts, and the boot (the start time in microseconds,
    larger for a later run) tells a position from an earlier run apart.
    """

    def __init__(self, history: int = 2000):
        self.boot = time.time_ns() // 1000
        self._condition = threading.Condition()
        self._version = 0
        self._changes: deque[tuple[int, str, int, dict | None]] = deque(maxlen=history)

    @property
    def version(self) -> int:
        return self._version

    def position(self, version: int | None = None) -> str:
        """The position of a version (by default the current one)."""
        return f"{self.boot}-{self._version if version is None else version}"

    def version_at(self, position: str) -> int | None:
        """The version a position of this run names; None for one from another run (or not a position)."""
        boot, _, version = position.partition("-")
        return int(version) if boot == str(self.boot) and version.isdigit() else None

    def announce(self, kind: str, item_id: int, snapshot: dict | None = None) -> None:
        with self._condition:
            self._version += 1
            self._changes.append((self._version, kind, item_id, snapshot))
            self._condition.notify_all()

    def wait(self, since: int | None, timeout: float) -> tuple[int, list[tuple[int, str, int, dict | None]] | None]:
        """(new version, changes (version, kind, id, snapshot) after `since`, in order).

        None instead of the changes means the caller must resync: `since` is None (a position from
        another run), newer than any change, or older than the kept history.
        """
        with self._condition:
            if since is None or since > self._version:
                return self._version, None
            self._condition.wait_for(lambda: self._version > since, timeout)
            if self._changes and self._changes[0][0] > since + 1:
                return self._version, None
            return self._version, [change for change in self._changes if change[0] > since]
