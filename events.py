"""Announcements of saved changes: the worker saves first, then wakes the live streams."""
from __future__ import annotations

import threading
from collections import deque


class Broadcaster:
    """A version counter with the recent changes; streams wait for a version newer than theirs."""

    def __init__(self, history: int = 2000):
        self._condition = threading.Condition()
        self._version = 0
        self._changes: deque[tuple[int, str, int]] = deque(maxlen=history)

    @property
    def version(self) -> int:
        return self._version

    def announce(self, kind: str, item_id: int) -> None:
        with self._condition:
            self._version += 1
            self._changes.append((self._version, kind, item_id))
            self._condition.notify_all()

    def wait(self, since: int, timeout: float) -> tuple[int, set[tuple[str, int]] | None]:
        """(new version, changed (kind, id) pairs); None means the stream fell behind and must resync."""
        with self._condition:
            self._condition.wait_for(lambda: self._version > since, timeout)
            if self._changes and self._changes[0][0] > since + 1:
                return self._version, None
            return self._version, {(kind, item) for version, kind, item in self._changes if version > since}
