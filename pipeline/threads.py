"""CPU threads per model, chosen by measurement (2 vCPUs, Whisper base int8, CAM++):

- faster-whisper's sequential decoder gains nothing from a second thread: 0.194 x real time with
  1 thread and with 2 (253 s of speech);
- CAM++ runs its windows in batches, which do use both: 0.031 x real time with 2 torch threads,
  0.049 with 1;
- so transcription keeps one core and diarization runs beside it on the rest, and the analysis
  takes about as long as the transcription alone. Diarization on its own (transcript reused)
  gets every core.
"""
from __future__ import annotations

import os


def available_cores() -> int:
    """CPU cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def whisper_threads() -> int:
    return max(available_cores() - 1, 1)


def speaker_threads(beside_whisper: bool) -> int:
    return max(available_cores() - whisper_threads(), 1) if beside_whisper else available_cores()


def use_torch_threads(count: int) -> None:
    """torch's intra-op pool is process-wide; only the speaker models use torch here."""
    import torch
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
