"""CPU threads per model, chosen by measurement (2 vCPUs, Whisper base int8, CAM++):

- faster-whisper's beam search is slower on a second thread, its encoder and word aligner much
  faster: on bench.speed's 183 s dialogue, 8 encodes took 12.0 s on 1 thread and 6.8 s on 2,
  7 alignments 2.2 s and 1.4 s, the beam search 26.0 s and 35.4 s. So the beam search gets one
  thread and the encoder and aligner every core (transcribe._WhisperModel): 31-32 s against
  36-38.5 s for the whole transcription, 31.5-35 s against 37 s with diarization beside it, and the
  same (39-41 s) with one core kept busy by another process;
- CAM++ (ONNX Runtime) runs its windows in batches, which do use both: the 183 s dialogue's
  windows took 2.9-3.5 s with 2 threads and 4.4-5.2 s with 1;
- so diarization runs beside the transcription on the cores its beam search leaves, and the
  analysis takes about as long as the transcription alone;
- diarization on its own (transcript reused) gets the cores no other process is using. With one
  core kept busy by another process those windows took 5.2-5.4 s on 2 threads and 5.4-5.6 s on 1;
  in PyTorch, whose threads spin while they wait, 2 threads took twice as long as 1.
"""
from __future__ import annotations

import os
import time

IDLE_SAMPLE_SECONDS = 0.2


def available_cores() -> int:
    """CPU cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


WHISPER_DECODER_THREADS = 1


def whisper_encoder_threads() -> int:
    """Whisper's encoder and word aligner: every core, also those diarization uses meanwhile."""
    return available_cores()


def _cpu_jiffies() -> tuple[int, int, int]:
    """(idle, total, CPUs) from /proc/stat's first lines: every process on the machine counts."""
    with open("/proc/stat") as stat:
        lines = stat.read().splitlines()
    fields = [int(x) for x in lines[0].split()[1:9]]  # user nice system idle iowait irq softirq steal
    cpus = sum(1 for line in lines[1:] if line.startswith("cpu"))
    return fields[3] + fields[4], sum(fields), cpus


def idle_cores(sample_seconds: float = IDLE_SAMPLE_SECONDS) -> float:
    """Cores that no process used during a short sample; every available core where /proc/stat is missing."""
    try:
        idle, total, cpus = _cpu_jiffies()
        time.sleep(sample_seconds)
        idle_after, total_after, _ = _cpu_jiffies()
    except (OSError, ValueError, IndexError):
        return float(available_cores())
    if total_after <= total:
        return float(available_cores())
    return min((idle_after - idle) / (total_after - total) * cpus, available_cores())


def speaker_threads(beside_whisper: bool) -> int:
    """Beside Whisper: the cores its beam search leaves. Alone: the idle ones, since a thread that
    shares its core with another process holds the others up at every step."""
    if beside_whisper:
        return max(available_cores() - WHISPER_DECODER_THREADS, 1)
    return max(min(round(idle_cores()), available_cores()), 1)


def use_torch_threads(count: int) -> None:
    """torch's intra-op pool is process-wide; only the speaker models use torch here, and CAM++'s
    ONNX Runtime session takes the same count (campplus.embed_features)."""
    import torch
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
