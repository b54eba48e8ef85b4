"""Speed benchmark: is the pipeline's overhead small next to the transcription it can't avoid?

    python -m bench.speed [--minutes 3] [--work DIR] [--strict]

It synthesises a two-speaker dialogue (espeak-ng voices from tests.media) muxed into a
1280x720 video, then, in one process and with every model loaded beforehand, times:

1. bare faster-whisper on the same audio (same model folder, int8, same threads, same options:
   word timestamps, VAD filter, every segment consumed) - the floor the pipeline can't go under;
   run before and after the analysis, the faster of the two counts;
2. the full `pipeline.run.analyze` from the local file (copy, audio, transcribe, diarize, segments);
3. cutting a 30 s 720p clip with `media.cut_clip`.

Targets: analysis / bare transcription <= 1.15, diarization / audio <= 0.03, cut / clip length <= 0.2.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from pipeline import embedded_diarizer, media, run, transcribe
from pipeline.models import resolve_whisper_model
from pipeline.options import AnalysisOptions
from tests import media as test_media

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "instance" / "models"

TARGETS = {
    "analysis / bare transcription": 1.15,
    "diarization / audio duration": 0.03,
    "clip cut / clip length": 0.2,
}
CLIP_SECONDS = 30.0

# Question-and-answer pairs; repeated in order until the dialogue is long enough.
SCRIPT = [
    ("A", "Good evening and welcome back to the programme about cooking at home on a budget."),
    ("B", "Thank you, it is a pleasure to be here again with all of your listeners."),
    ("A", "Where should a beginner start when the kitchen is small and the money is short?"),
    ("B", "Start with one good knife, a heavy pan and a pot with a lid, and nothing more."),
    ("A", "Which ingredients do you always keep in the cupboard?"),
    ("B", "Rice, lentils, tinned tomatoes, onions, garlic and a few dried spices cover most meals."),
    ("A", "How do you stop vegetables from going to waste at the end of the week?"),
    ("B", "I make a big soup on Sunday with everything that is left, and freeze half of it."),
    ("A", "Is frozen food really as good as fresh food?"),
    ("B", "Frozen peas and spinach are picked at their best, so they are often better than old fresh ones."),
    ("A", "What is the most common mistake people make with their first curry?"),
    ("B", "They rush the onions. Cook them slowly until they are soft and golden before adding anything."),
    ("A", "Many listeners ask about bread. Is it hard to bake at home?"),
    ("B", "Not at all. Flour, water, salt and yeast, a warm place and some patience are all you need."),
    ("A", "How long does the dough need to rest?"),
    ("B", "About two hours at room temperature, or a whole night in the fridge for more flavour."),
    ("A", "Do you have a favourite quick dinner for a busy evening?"),
    ("B", "Pasta with garlic, chilli and olive oil takes ten minutes and everybody loves it."),
    ("A", "What about children who refuse to eat anything green?"),
    ("B", "Let them cook with you. Children eat what they have helped to make, even broccoli."),
    ("A", "Is it worth buying expensive pans?"),
    ("B", "One solid pan that lasts twenty years is cheaper than five cheap ones that warp."),
    ("A", "How do you plan the shopping for a whole week?"),
    ("B", "I write the dinners down on Saturday, check the cupboard, and only buy what is missing."),
    ("A", "That sounds very sensible. What would you cook for guests?"),
    ("B", "A slow roast with potatoes, because the oven does the work while you talk to your friends."),
    ("A", "Thank you so much for all of these wonderful ideas tonight."),
    ("B", "Thank you for having me, and happy cooking to everybody at home."),
]


def make_dialogue(work: Path, minutes: float) -> tuple[Path, Path, float]:
    """A WAV and a 1280x720 H.264/AAC video of about `minutes` of two-speaker dialogue."""
    lines: list[tuple[str, str]] = []
    estimate = 0.0
    while estimate < minutes * 60:
        line = SCRIPT[len(lines) % len(SCRIPT)]
        lines.append(line)
        estimate += len(line[1].split()) / 3.5 + 0.6  # these voices speak about 3.5 words/s
    recording = test_media.dialogue(lines, work / "dialogue.wav")
    video = test_media.mux_video(recording.wav, work / "dialogue.mp4", recording.duration, size="1280x720")
    return recording.wav, video, recording.duration


def bare_transcription(model, wav: Path) -> tuple[float, int]:
    """What faster-whisper alone costs: the same call the pipeline makes, every segment consumed."""
    started = time.perf_counter()
    segments, info = model.transcribe(str(wav), language=None, word_timestamps=True, vad_filter=True)
    words = sum(len(segment.words or []) for segment in segments)
    return time.perf_counter() - started, words


def verdict(name: str, value: float) -> str:
    target = TARGETS[name]
    return f"{name:<32} {value:7.3f}  (target <= {target:<4})  {'PASS' if value <= target else 'MISS'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the synthetic dialogue")
    parser.add_argument("--work", help="keep the media and outputs in this folder (default: a temp folder)")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 CPU threads for both runs (0: its default)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    temp = None if args.work else tempfile.TemporaryDirectory(prefix="bench-speed-")
    work = Path(args.work or temp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        _, video, duration = make_dialogue(work, args.minutes)
        # The baseline hears exactly what the pipeline will: the audio decoded back from the video.
        wav = media.extract_audio(video, work / "bare.wav")
        print(f"media      {duration:6.1f} s of dialogue, 1280x720 video, made in {time.perf_counter() - started:.1f} s")

        options = AnalysisOptions(models_dir=str(MODELS_DIR), cpu_threads=args.threads, compute_type="int8",
                                  device="cpu")
        model_path = resolve_whisper_model(options.whisper_model, options.models_dir)
        # Load everything before any clock starts: both Whisper models and the voice encoder.
        from faster_whisper import WhisperModel
        bare_model = WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=args.threads)
        transcribe.load_model(options)
        embedded_diarizer.warm_up()
        print(f"models     {model_path} (int8, cpu_threads={args.threads or 'default'}) loaded")

        # Bare runs before and after the analysis; the faster one is the floor (other load on
        # the machine only ever slows a run down, so the minimum is the fairer baseline).
        load_before = os.getloadavg()[0]
        bare_first, bare_words = bare_transcription(bare_model, wav)
        started = time.perf_counter()
        result = run.analyze(str(video), work / "analysis", options)
        analysis_seconds = time.perf_counter() - started
        bare_second, _ = bare_transcription(bare_model, wav)
        bare_seconds = min(bare_first, bare_second)

        clip_start = min(60.0, max(duration - CLIP_SECONDS - 1.0, 0.0))
        clip_length = min(CLIP_SECONDS, duration - clip_start)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        media.cut_clip(video, clip_start, clip_start + clip_length, work / "clip.mp4")
        cut_seconds = time.perf_counter() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cut_cpu = (children_after.ru_utime + children_after.ru_stime
                   - children_before.ru_utime - children_before.ru_stime)
        clip_info = media.probe(work / "clip.mp4")
        load_after = os.getloadavg()[0]
    finally:
        if temp is not None:
            temp.cleanup()

    speakers = len({t.speaker for t in result.turns})
    print(f"\nresult     {len(result.words)} words (bare: {bare_words}), {speakers} speakers, "
          f"{len(result.candidates)} candidates; clip {clip_info.width}x{clip_info.height}, {clip_info.duration:.2f} s")
    print(f"\n{'stage':<20} {'seconds':>8} {'x real time':>12}")
    print(f"{'bare transcription':<20} {bare_seconds:8.2f} {bare_seconds / duration:12.3f}"
          f"  (runs: {bare_first:.2f} before, {bare_second:.2f} after the analysis)")
    for stage, seconds in result.timings.items():
        print(f"  analysis.{stage:<10} {seconds:8.2f} {seconds / duration:12.3f}")
    print(f"{'analysis (total)':<20} {analysis_seconds:8.2f} {analysis_seconds / duration:12.3f}")
    print(f"{'clip cut (30 s)':<20} {cut_seconds:8.2f} {cut_seconds / clip_length:12.3f}  (per clip second;"
          f" ffmpeg used {cut_cpu:.2f} CPU s)")

    ratios = {
        "analysis / bare transcription": analysis_seconds / bare_seconds,
        "diarization / audio duration": result.timings["diarize"] / duration,
        "clip cut / clip length": cut_seconds / clip_length,
    }
    print(f"\nload average {load_before:.2f} at the start, {load_after:.2f} at the end, on {os.cpu_count()} CPUs"
          + ("  - other work was running: figures are noisy" if max(load_before, load_after) > 1.5 else ""))
    for name, value in ratios.items():
        print(verdict(name, value))
    missed = [name for name, value in ratios.items() if value > TARGETS[name]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
