"""Speed benchmark: does the analysis cost no more than the transcription it can't avoid?

    python -m bench.speed [--minutes 3] [--pairs 3] [--work DIR] [--no-busy] [--strict]

It synthesises a two-speaker dialogue (espeak-ng voices from tests.media) muxed into a 1280x720
video, then, in one process and with every model loaded beforehand, times:

1. bare faster-whisper on the same audio (word timestamps, VAD filter, every segment consumed),
   with faster-whisper's default threads, with one thread and with every core; the fastest is the
   floor the pipeline is held to;
2. the full `pipeline.run.analyze` from the local file (copy, audio, transcription beside
   diarization, segments), each time into a fresh folder;
3. diarization on its own (models loaded, the transcript's words given), as the app runs it when
   a transcript is reused;
4. cutting a 30 s 720p clip with `media.cut_clip`.

Then it does it all again while another process keeps one core busy (--no-busy skips this): a
figure that holds only on a quiet machine does not hold. Steps 1 and 2 run in turn --pairs times
and the pair with the median ratio is reported: this machine's speed drifts by 10 % within minutes.
Targets: analysis / bare transcription <= 1.0, diarization / audio <= 0.05, cut / clip length <= 0.2.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pipeline import diarize, media, run, threads, transcribe
from pipeline.models import resolve_whisper_model
from pipeline.options import AnalysisOptions
from tests import media as test_media

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO / "instance" / "models"

TARGETS = {
    "analysis / bare transcription": 1.0,
    "diarization / audio duration": 0.05,
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


def make_dialogue(work: Path, minutes: float, size: str = "1280x720", rate: int = 25) -> tuple[test_media.Recording, Path]:
    """About `minutes` of two-speaker dialogue: its recording (WAV and reference) and an H.264/AAC video."""
    lines: list[tuple[str, str]] = []
    estimate = 0.0
    while estimate < minutes * 60:
        line = SCRIPT[len(lines) % len(SCRIPT)]
        lines.append(line)
        estimate += len(line[1].split()) / 3.5 + 0.6  # these voices speak about 3.5 words/s
    recording = test_media.dialogue(lines, work / "dialogue.wav")
    video = test_media.mux_video(recording.wav, work / "dialogue.mp4", recording.duration, size=size, rate=rate)
    return recording, video


def bare_transcription(model, wav: Path) -> float:
    """What faster-whisper alone costs: the call the pipeline makes, every segment consumed."""
    started = time.perf_counter()
    segments, _ = model.transcribe(str(wav), word_timestamps=True, vad_filter=True)
    for _ in segments:
        pass
    return time.perf_counter() - started


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10000))


class BusyCore:
    """Another process keeping one core busy, as other work on a shared machine would."""

    def __enter__(self):
        self.stop = multiprocessing.Event()
        self.process = multiprocessing.Process(target=_spin, args=(self.stop,), daemon=True)
        self.process.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.process.join(timeout=5)


def measure(work: Path, video: Path, wav: Path, duration: float, options, bare_models: dict, pairs: int) -> dict:
    """One round of every figure. The bare transcription and the analysis run in turn, `pairs` times:
    each pair's ratio is taken within the pair, and the median pair is reported, so a drift in the
    machine's speed during the round moves neither."""
    load_before = os.getloadavg()[0]
    bare_runs, analyses, pair_ratios = [], [], []
    for _ in range(pairs):
        bare_runs.append({name: bare_transcription(model, wav) for name, model in bare_models.items()})
        out = work / "analysis"
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        result = run.analyze(str(video), out, options)
        analyses.append(time.perf_counter() - started)
        pair_ratios.append(analyses[-1] / min(bare_runs[-1].values()))
    middle = sorted(range(pairs), key=lambda i: pair_ratios[i])[pairs // 2]
    heard = [(word.start, word.end) for word in result.words]
    alone_threads = threads.speaker_threads(beside_whisper=False)
    threads.use_torch_threads(alone_threads)
    started = time.perf_counter()
    alone = diarize.diarize(str(out / "audio.wav"), options, heard=heard)
    diarization = time.perf_counter() - started
    clip_start = min(60.0, max(duration - CLIP_SECONDS - 1.0, 0.0))
    clip_length = min(CLIP_SECONDS, duration - clip_start)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    media.cut_clip(video, clip_start, clip_start + clip_length, work / "clip.mp4")
    cut = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "bare": bare_runs[middle], "analysis": analyses[middle], "timings": result.timings,
        "pair_ratios": pair_ratios, "diarization": diarization,
        "cut": cut, "cut_cpu": after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime,
        "speakers": len(alone.speakers), "alone_threads": alone_threads, "words": len(result.words), "load": (load_before, os.getloadavg()[0]),
        "ratios": {"analysis / bare transcription": pair_ratios[middle],
                   "diarization / audio duration": diarization / duration,
                   "clip cut / clip length": cut / clip_length},
    }


def report(name: str, figures: dict, duration: float) -> None:
    print(f"\n== {name} (1-minute load average {figures['load'][0]:.2f} before, {figures['load'][1]:.2f} after)")
    print(f"{'stage':<34} {'seconds':>8} {'x real time':>12}")
    print(f"(bare and analysis: the median of {len(figures['pair_ratios'])} pairs run in turn; each pair's ratio: "
          + ", ".join(f"{ratio:.3f}" for ratio in figures["pair_ratios"]) + "; stages: the last analysis)")
    for label, seconds in figures["bare"].items():
        print(f"{'bare faster-whisper, ' + label:<34} {seconds:8.2f} {seconds / duration:12.3f}")
    for stage, seconds in figures["timings"].items():
        print(f"{'  analysis.' + stage:<34} {seconds:8.2f} {seconds / duration:12.3f}")
    print(f"{'analysis (total)':<34} {figures['analysis']:8.2f} {figures['analysis'] / duration:12.3f}"
          f"  ({figures['words']} words)")
    print(f"{'diarization alone':<34} {figures['diarization']:8.2f} {figures['diarization'] / duration:12.3f}"
          f"  ({figures['speakers']} speakers, {figures['alone_threads']} speaker-model thread(s))")
    print(f"{'clip cut (30 s, 720p)':<34} {figures['cut']:8.2f} {figures['cut'] / CLIP_SECONDS:12.3f}"
          f"  per clip second; ffmpeg used {figures['cut_cpu']:.2f} CPU s")
    for label, value in figures["ratios"].items():
        target = TARGETS[label]
        print(f"{label:<34} {value:8.3f}  (target <= {target:<4})  {'PASS' if value <= target else 'MISS'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the synthetic dialogue")
    parser.add_argument("--work", help="keep the media and outputs in this folder (default: a temp folder)")
    parser.add_argument("--no-busy", action="store_true", help="skip the round with one core kept busy")
    parser.add_argument("--pairs", type=int, default=3, help="bare transcriptions and analyses run in turn, per round")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    temp = None if args.work else tempfile.TemporaryDirectory(prefix="bench-speed-")
    work = Path(args.work or temp.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        recording, video = make_dialogue(work, args.minutes)
        duration = recording.duration
        # The baseline hears exactly what the pipeline will: the audio decoded back from the video.
        wav = media.extract_audio(video, work / "bare.wav")
        print(f"media      {duration:6.1f} s of dialogue, 1280x720 video, made in {time.perf_counter() - started:.1f} s")

        options = AnalysisOptions(models_dir=str(MODELS_DIR), compute_type="int8", device="cpu")
        model_path = resolve_whisper_model(options.whisper_model, options.models_dir)
        # Load everything before any clock starts: the bare models and the pipeline's.
        from faster_whisper import WhisperModel
        cores = threads.available_cores()
        bare_threads = sorted({1, cores})
        bare_models = {"default threads": WhisperModel(model_path, device="cpu", compute_type="int8")}
        for count in bare_threads:
            bare_models[f"{count} thread(s)"] = WhisperModel(model_path, device="cpu", compute_type="int8",
                                                             cpu_threads=count)
        run.warm_up(options)
        print(f"threads    {cores} cores; pipeline: Whisper's encoder and aligner {threads.whisper_encoder_threads()} "
              f"thread(s), its beam search {threads.WHISPER_DECODER_THREADS}, speaker model "
              f"{threads.speaker_threads(beside_whisper=True)} beside it and the idle cores alone (per round below); "
              f"bare: faster-whisper's default (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
              + " and ".join(str(count) for count in bare_threads))
        rounds = {"quiet": measure(work, video, wav, duration, options, bare_models, args.pairs)}
        if not args.no_busy:
            with BusyCore():
                rounds["one core kept busy by another process"] = measure(work, video, wav, duration, options,
                                                                          bare_models, args.pairs)
    finally:
        if temp is not None:
            temp.cleanup()
    for name, figures in rounds.items():
        report(name, figures, duration)
    missed = [label for figures in rounds.values() for label, value in figures["ratios"].items()
              if value > TARGETS[label]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
