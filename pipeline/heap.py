"""Keep the analysis's resident memory close to what it uses, on glibc (Linux); elsewhere no-ops.

glibc keeps freed heap pages for reuse, so the resident size stays at its high-water mark after a
step that allocates much and keeps little: exporting CAM++ to ONNX kept 160 MB resident where 90 MB
were still in use, and loading Whisper a second time kept 124 MB for 80 MB of weights. It also gives
each new thread that allocates its own heap ("arena"), up to 8 per core, and the analysis has many
threads (Whisper's, the listener's, ONNX Runtime's): each heap keeps its own freed pages.

Measured on an hour of video (bench.long), peak resident memory: 2.13 GB as glibc does it, 2.04 GB
trimming after the export and the Whisper load, 1.95 GB with two arenas as well. Whisper beside the
listener took as long with two arenas as without (32.2-33.7 s for 183 s).
Arrays from 8 MB up on pages of their own (mallopt M_MMAP_THRESHOLD) kept it at 1.87 GB but made
Whisper 17-30 % slower, so that stays glibc's choice.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # mallopt parameter, from glibc's malloc.h
ARENAS = 2


@functools.lru_cache(maxsize=1)
def _glibc():
    """The C library if it is glibc (it has malloc_trim), else None (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
        return library if library is not None and hasattr(library, "malloc_trim") else None
    except OSError:
        return None


def release_free_memory() -> None:
    """Return freed heap pages to the operating system."""
    glibc = _glibc()
    if glibc is not None:
        glibc.malloc_trim(0)


def share_heaps() -> None:
    """At most ARENAS heaps for the threads that allocate from now on."""
    glibc = _glibc()
    if glibc is not None:
        glibc.mallopt(M_ARENA_MAX, ARENAS)
