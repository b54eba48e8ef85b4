"""Rendered job lists, reused while no job changes: what keeps the queue page and /api/jobs fast
when many pages poll a big history. Keys start with db.jobs_version, which a trigger bumps on every
write to jobs (from any thread or process), read *before* the rows, so an entry is never newer
than its key says and never served once a job has changed."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from flask import current_app

SIZE = 64


class ListCache:
    """A small LRU map; a missing entry is made once, however many requests want it at that moment."""

    def __init__(self, size: int = SIZE):
        self._items: OrderedDict = OrderedDict()
        self._making: dict = {}
        self._lock = threading.Lock()
        self._size = size

    def get(self, key, make: Callable):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            making = self._making.get(key)
            if making is None:
                making = self._making[key] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:  # another request is making it: wait for that rather than render it again
            making.wait(timeout=30)
            with self._lock:
                if key in self._items:
                    return self._items[key]
            return make()  # the maker failed or is stuck: make it here
        try:
            value = make()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._making.pop(key, None)
            making.set()


def list_cache() -> ListCache:
    """This app's cache."""
    cache = current_app.extensions.get("list_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("list_cache", ListCache())
    return cache
