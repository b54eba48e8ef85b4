"""Command line: `python -m pipeline run SOURCE` and `python -m pipeline clip VIDEO START END OUT`."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import media, run
from .errors import PipelineError
from .options import DIARIZATION_BACKENDS, RESOLUTIONS, AnalysisOptions


class TerminalProgress:
    """One updating line per stage on stderr."""

    def __init__(self):
        self.stage = None

    def __call__(self, stage: str, fraction: float, detail: str = "") -> None:
        if stage != self.stage and self.stage is not None:
            sys.stderr.write("\n")
        self.stage = stage
        sys.stderr.write(f"\r{stage:<11} {fraction * 100:5.1f}%  {detail[:60]:<60}")
        sys.stderr.flush()


def load_captions(path: str) -> list[media.Caption]:
    """Captions from a result.json (its segments) or an SRT file."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return [media.Caption(s["start"], s["end"], s["text"]) for s in json.loads(text)["segments"]]
    import srt
    return [media.Caption(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in srt.parse(text)]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("run", help="analyse a video URL or file")
    analyze.add_argument("source", help="http(s) URL or local video file")
    analyze.add_argument("--out", default="downloads/cli", help="output folder")
    analyze.add_argument("--resolution", default="720p", choices=RESOLUTIONS)
    analyze.add_argument("--model", default="base", help="Whisper size name or local model folder")
    analyze.add_argument("--compute-type", default="default")
    analyze.add_argument("--language", default=None)
    analyze.add_argument("--diarization", default="auto", choices=DIARIZATION_BACKENDS)
    analyze.add_argument("--pyannote-pipeline", default=AnalysisOptions.pyannote_pipeline)
    analyze.add_argument("--hf-token", default=os.environ.get("HUGGING_FACE_TOKEN") or None,
                         help="Hugging Face token for pyannote hub pipelines (default: $HUGGING_FACE_TOKEN)")
    analyze.add_argument("--num-speakers", type=int)
    analyze.add_argument("--min-speakers", type=int)
    analyze.add_argument("--max-speakers", type=int)
    analyze.add_argument("--clip-min", type=float, default=15.0)
    analyze.add_argument("--clip-max", type=float, default=60.0)
    analyze.add_argument("--models-dir", default="instance/models")
    analyze.add_argument("--ffmpeg", default=None, help="ffmpeg binary or folder (FFMPEG_PATH)")
    clip = commands.add_parser("clip", help="cut an exact clip")
    clip.add_argument("video")
    clip.add_argument("start", type=float)
    clip.add_argument("end", type=float)
    clip.add_argument("out")
    clip.add_argument("--captions", help="result.json or .srt to burn in")
    clip.add_argument("--vertical", action="store_true", help="9:16 centre crop")
    clip.add_argument("--ffmpeg", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not getattr(args, "hf_token", None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no token: never reach for the hub
    try:
        if args.command == "run":
            options = AnalysisOptions(
                resolution=args.resolution, whisper_model=args.model, compute_type=args.compute_type,
                language=args.language, diarization=args.diarization, pyannote_pipeline=args.pyannote_pipeline,
                hf_token=args.hf_token, num_speakers=args.num_speakers, min_speakers=args.min_speakers,
                max_speakers=args.max_speakers, clip_min_seconds=args.clip_min, clip_max_seconds=args.clip_max,
                models_dir=args.models_dir, ffmpeg_path=args.ffmpeg)
            result = run.analyze(args.source, args.out, options, TerminalProgress())
            sys.stderr.write("\n")
            speakers = sorted({s.speaker for s in result.segments})
            print(f"{result.video.title}: {len(result.words)} words, {len(speakers)} speakers "
                  f"({result.diarization_backend}), {len(result.candidates)} candidates -> {Path(args.out) / run.RESULT_FILE}")
        else:
            captions = load_captions(args.captions) if args.captions else None
            media.cut_clip(args.video, args.start, args.end, args.out, captions=captions,
                           vertical=args.vertical, ffmpeg_path=args.ffmpeg)
            print(args.out)
    except (PipelineError, ValueError) as error:
        sys.stderr.write(f"\nerror: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
