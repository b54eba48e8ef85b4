"""A long video end to end: wall time, real-time factor and peak memory of the whole analysis.

    python -m bench.long [--minutes 60] [--work DIR]

Generates about an hour of two-speaker dialogue (bench.speed's script, espeak-ng) as a 640x360
video, runs `python -m pipeline run` on it in a child process (a fresh process: model loading
counts) and reads the child's wall time and peak resident memory from the operating system.
Target: peak RSS <= 2 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.quality import annotation, normalize
from bench.speed import MODELS_DIR, REPO, make_dialogue

MAX_RSS_BYTES = 2 * 1024 ** 3


def accuracy(result: dict, recording) -> str:
    """WER and DER (collar ±0.25 s) of the whole hour against the script it was spoken from."""
    import jiwer
    from pyannote.metrics.diarization import DiarizationErrorRate
    reference = " ".join(normalize(" ".join(u.text for u in recording.utterances)))
    hypothesis = " ".join(normalize(" ".join(word["text"] for word in result["words"])))
    der = DiarizationErrorRate(collar=0.5)(
        annotation([(u.start, u.end, u.speaker) for u in recording.utterances], "long"),
        annotation([(t["start"], t["end"], t["speaker"]) for t in result["turns"]], "long"))
    return f"WER {jiwer.wer(reference, hypothesis):.1%}, DER ±0.25 s {der:.1%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.long", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--work", help="keep the media and outputs in this folder (default: a temp folder)")
    args = parser.parse_args(argv)

    temp = None if args.work else tempfile.TemporaryDirectory(prefix="bench-long-")
    work = Path(args.work or temp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        recording, video = make_dialogue(work, args.minutes, size="640x360", rate=10)
        duration = recording.duration
        print(f"media      {duration / 60:.1f} min of dialogue, 640x360 video, made in {time.perf_counter() - started:.0f} s",
              flush=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYANNOTE_METRICS_ENABLED": "false"}
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pipeline", "run", str(video), "--out", str(work / "analysis"),
                               "--models-dir", str(MODELS_DIR)], cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kilobytes on Linux
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        result = json.loads((work / "analysis" / "result.json").read_text())
    finally:
        if temp is not None:
            temp.cleanup()
    print(f"analysis   {wall:.0f} s wall for {duration:.0f} s of video: {wall / duration:.3f} x real time "
          f"(1-minute load average {load_before:.2f} at the start)")
    print(f"stages     " + ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in result["timings"].items()))
    print(f"result     {len(result['words'])} words, {len({t['speaker'] for t in result['turns']})} speakers, "
          f"{len(result['candidates'])} candidates")
    print(f"accuracy   {accuracy(result, recording)}")
    verdict = "PASS" if peak <= MAX_RSS_BYTES else "MISS"
    print(f"peak RSS   {peak / 1024 ** 3:.2f} GB (target <= {MAX_RSS_BYTES / 1024 ** 3:.0f} GB)  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
