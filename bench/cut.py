"""Clip-cut benchmark: CPU seconds of a smart cut against the whole re-encode.

    python -m bench.cut [--runs 3] [--start 10.37] [--seconds 30] [--work DIR] [--strict]

Makes a 1280x720 30 fps H.264 source (libx264 veryfast: High profile, B-frames, a keyframe every
2 s, as a download would have) with AAC audio, then cuts the same clip from it, starting between
two keyframes, both ways: `smartcut.cut` (the two partial groups of pictures re-encoded, the middle
and the audio copied) and the whole re-encode `media.cut_clip` falls back to. A clip as long as a
whole number of groups of pictures re-encodes one group's worth of frames wherever it starts; the
worst case, from just after a keyframe to just before one, nearly two. CPU seconds count ffmpeg's
processes and this process's own work (PyAV), after a warm-up cut; medians are quoted.
Target: smart cut CPU seconds / clip length <= 0.05.
"""
from __future__ import annotations

import argparse
import functools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline import media, smartcut

TARGET = 0.05
RATE = 30
GOP_SECONDS = 2
CLIP_START = 10.37  # between the keyframes at 10 s and 12 s, as a clip's start usually is


def make_source(path: Path, seconds: float) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={RATE}:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", str(RATE * GOP_SECONDS), "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-movflags", "+faststart", str(path)],
                   check=True, timeout=600)
    return path


def cpu_seconds(cut) -> tuple[float, float]:
    """(CPU seconds of this process and its children, wall seconds) of one call."""
    before = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    started = time.perf_counter()
    cut()
    wall = time.perf_counter() - started
    after = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before)), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cut", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed cuts of each kind, after one warm-up")
    parser.add_argument("--start", type=float, default=CLIP_START, help="where the clip starts, in seconds")
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length")
    parser.add_argument("--work", help="keep the source and the clips in this folder (default: a temp folder)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    temp = None if args.work else tempfile.TemporaryDirectory(prefix="bench-cut-")
    work = Path(args.work or temp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        source = work / "source.mp4"
        if not source.exists():
            make_source(source, args.start + args.seconds + 5)
        start, end = args.start, args.start + args.seconds
        # The most a clip this long re-encodes: from just after one keyframe to just before another.
        keyframe = start // GOP_SECONDS * GOP_SECONDS
        worst = (keyframe + 1 / RATE, keyframe + args.seconds - 1 / RATE)
        print(f"source     1280x720 {RATE} fps, a keyframe every {GOP_SECONDS} s, B-frames; "
              f"1-minute load average {os.getloadavg()[0]:.2f}")
        cuts = {
            "smart cut": (start, end, smartcut.cut),
            "smart cut, worst case": (*worst, smartcut.cut),
            "whole re-encode": (start, end, lambda *cut: media._reencode_clip(*cut, None, False, None)),
        }
        figures = {}
        for name, (first, last, cut) in cuts.items():
            if cut is smartcut.cut:
                found = smartcut.plan(source, first, last)
                print(f"{name:<24} {first:.2f}-{last:.2f} s: {sum(len(part.frames) for part in found.parts)} of "
                      f"{len(found.frames)} frames re-encoded, the rest copied")
            run = functools.partial(cut, source, first, last, work / "clip.mp4")
            cpu_seconds(run)  # warm-up: imports, page cache
            runs = [cpu_seconds(run) for _ in range(args.runs)]
            figures[name] = (statistics.median(cpu for cpu, _ in runs), statistics.median(wall for _, wall in runs),
                             last - first)
    finally:
        if temp is not None:
            temp.cleanup()
    print(f"\n{'clip cut, 720p':<24} {'CPU s':>7} {'wall s':>7} {'clip s':>7} {'CPU s / clip s':>15}")
    for name, (cpu, wall, length) in figures.items():
        print(f"{name:<24} {cpu:7.2f} {wall:7.2f} {length:7.2f} {cpu / length:15.3f}")
    ratio = figures["smart cut"][0] / args.seconds
    print(f"smart cut is {figures['whole re-encode'][0] / figures['smart cut'][0]:.0f}x cheaper than the whole "
          f"re-encode; CPU s / clip length {ratio:.3f} (target <= {TARGET})  {'PASS' if ratio <= TARGET else 'MISS'}")
    return 1 if args.strict and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
