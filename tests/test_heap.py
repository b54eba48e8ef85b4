"""Large arrays freed by the analysis leave the resident size (glibc)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline import heap

# Frees a 30 MB array (glibc then keeps arrays under 30 MB in the heap), then makes forty 9 MB
# arrays with a small object kept after each, frees the arrays and prints the resident MB they left.
CHILD = """
import sys, numpy as np
from pipeline import heap
if sys.argv[1] == "apart":
    heap.keep_large_arrays_apart()
def resident():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
del_me = np.ones(30 * 1024 * 1024 // 4, dtype=np.float32); del del_me
before = resident()
arrays, kept = [], []
for _ in range(40):
    arrays.append(np.ones(9 * 1024 * 1024 // 4, dtype=np.float32))
    kept.append(bytearray(4096))
del arrays
print(resident() - before)
"""


def left_behind_mb(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


@pytest.mark.skipif(heap._glibc() is None, reason="glibc only")
def test_freed_arrays_of_a_few_megabytes_leave_the_resident_size():
    assert left_behind_mb("heap") > 200  # what glibc does on its own
    assert left_behind_mb("apart") < 20
