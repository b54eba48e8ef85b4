"""Freed memory goes back to the operating system (glibc)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline import heap

# Fills 256 MB of the heap with 64 KB buffers (under glibc's size for pages of their own), keeps a
# small object above them so the heap cannot shrink from the top, frees the buffers and prints the
# resident MB they left behind, then the same after release_free_memory.
CHILD = """
from pipeline import heap
def resident():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
before = resident()
buffers = [bytearray(b"x" * 65536) for _ in range(4096)]
pin = bytearray(100_000)  # larger than any hole below it, so it sits on top
del buffers
print(resident() - before)
heap.release_free_memory()
print(resident() - before)
"""


@pytest.mark.skipif(heap._glibc() is None, reason="glibc only")
def test_freed_heap_is_given_back():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    kept, after_release = (float(line) for line in done.stdout.split())
    assert kept > 200 and after_release < 20
