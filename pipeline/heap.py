"""Keep the analysis's resident memory close to what it uses, on glibc (Linux); elsewhere no-ops.

glibc keeps freed heap pages for reuse, so the resident size stays at its high-water mark after a
step that allocates much and keeps little: exporting CAM++ to ONNX kept 160 MB resident where 90 MB
were still in use, and loading Whisper a second time kept 124 MB for 80 MB of weights. And after
freeing a large array, glibc raises the size from which arrays get pages of their own (returned
when freed) up to 32 MB, so the next arrays of a few megabytes go to the heap, where two threads'
alternating work fragments it. For an hour of video (bench.long) the peak was 2.13 GB; trimming
after the export and the Whisper load: 2.04 GB; with the threshold also fixed at 8 MB: 1.91 GB, at
the same speed (1 MB was twice as slow: Whisper's beam search allocates buffers of about 1 MB at
every step).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3  # mallopt parameter, from glibc's malloc.h
OWN_PAGES_FROM_BYTES = 8 * 1024 * 1024


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


def keep_large_arrays_apart() -> None:
    """Arrays from OWN_PAGES_FROM_BYTES up get pages of their own, whatever was freed before."""
    glibc = _glibc()
    if glibc is not None:
        glibc.mallopt(M_MMAP_THRESHOLD, OWN_PAGES_FROM_BYTES)
