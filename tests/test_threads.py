"""Thread counts follow the cores that are really free."""
from __future__ import annotations

import multiprocessing
import time

import pytest

from pipeline import threads


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def test_a_core_kept_busy_by_another_process_is_not_idle():
    stop = multiprocessing.Event()
    quiet = threads.idle_cores(sample_seconds=0.5)
    spinner = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
    spinner.start()
    try:
        time.sleep(0.3)
        busy = threads.idle_cores(sample_seconds=0.5)
    finally:
        stop.set()
        spinner.join(timeout=5)
    assert 0 <= busy <= quiet - 0.6 and quiet <= threads.available_cores()


@pytest.mark.parametrize("idle, expected", [(0.0, 1), (0.4, 1), (1.1, 1), (1.6, 2), (64.0, None)])
def test_diarizing_alone_uses_the_idle_cores(monkeypatch, idle, expected):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "idle_cores", lambda: idle)
    assert threads.speaker_threads(beside_whisper=False) == (expected or 2)
    assert threads.speaker_threads(beside_whisper=True) == 1


def test_without_proc_stat_every_core_counts_as_idle(monkeypatch):
    def missing():
        raise OSError("no /proc/stat")
    monkeypatch.setattr(threads, "_cpu_jiffies", missing)
    assert threads.idle_cores() == threads.available_cores()
