"""Diarization and transcription quality on the synthetic dialogues of bench/dialogues.py.

    python -m bench.quality [--split all|dev|heldout] [--backends embedded,pyannote] [--skip-asr] [--no-write]

Per recording and per diarization backend (embedded always; pyannote only when
pipeline.diarize.pyannote_configured says a token or local pipeline exists):
- DER with pyannote.metrics at collar=0 and collar=0.5. pyannote's collar is the
  TOTAL width removed around each reference boundary, so collar=0.5 is the usual
  "±0.25 s" collar; the tables call it "DER ±0.25". Overlapped speech is scored.
- speakers found vs truth;
- WER (jiwer) on normalised text: lowercase, numbers spelled out, punctuation dropped;
- words with the right speaker: transcript words from pipeline.transcribe get a
  speaker from the hypothesis turns (pipeline.combine when it offers that, else the
  largest time overlap), are aligned to the reference words by jiwer, and an aligned
  pair counts when the hypothesis speaker maps (optimal DER mapping) to the word's
  true speaker;
- diarization real-time factor = diarization seconds / audio seconds, after warm-up;
- when pipeline/candidates.py exists: the share of clip candidates whose start and
  end fall on a reference sentence boundary (within SENTENCE_TOLERANCE seconds).
Averages: DER is pooled over the recordings (total error / total speech); the
other columns are means. Results go to stdout, bench/out/results-<split>.json and
(unless --no-write) docs/BENCHMARKS.md. Transcripts are cached in bench/out/asr/.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import re
import subprocess
import time
import warnings
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import numpy as np

from . import dialogues

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "BENCHMARKS.md"
SENTENCE_TOLERANCE = 0.5
TARGETS = {"der": 0.10, "count": 0.80, "words": 0.95, "rtf": 0.03}

# ---------------------------------------------------------------- text


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    for size, name in ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            return number_words(n // size) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    return str(n)


SPELLING = {"favourite": "favorite", "neighbours": "neighbors", "neighbour": "neighbor", "recognise": "recognize",
            "colour": "color", "okay": "ok"}


def normalize(text: str) -> list[str]:
    """Lowercase tokens, numbers spelled out, punctuation (apostrophes too) dropped, British spelling as US."""
    text = text.lower().replace("%", " percent").replace("&", " and ")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"\d+", lambda m: " " + number_words(int(m.group())) + " ", text)
    text = re.sub(r"[-‐–—/]", " ", text)
    text = re.sub(r"[^a-z0-9\s]", "", text)
    return [SPELLING.get(token, token) for token in text.split()]


# ---------------------------------------------------------------- annotations


def annotation(turns, uri: str):
    from pyannote.core import Annotation, Segment
    result = Annotation(uri=uri)
    for i, (start, end, speaker) in enumerate(turns):
        if end > start:
            result[Segment(start, end), i] = speaker
    return result


def read_rttm(path: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            turns.append((start, start + duration, parts[7]))
    return turns


def _local_assign(words, turns) -> list[str | None]:
    """Each word's speaker: the turn overlapping it most, else the nearest turn."""
    speakers = []
    for word in words:
        best, best_overlap, best_distance = None, 0.0, float("inf")
        for turn in turns:
            overlap = min(word.end, turn.end) - max(word.start, turn.start)
            if overlap > best_overlap:
                best, best_overlap = turn.speaker, overlap
            elif best_overlap == 0.0:
                distance = max(turn.start - word.end, word.start - turn.end, 0.0)
                if distance < best_distance:
                    best, best_distance = turn.speaker, distance
        speakers.append(best)
    return speakers


def assign_speakers(words, turns) -> tuple[list[str | None], str]:
    """Speakers for transcript words: pipeline.combine.assign_speakers when it exists, else _local_assign."""
    if importlib.util.find_spec("pipeline.combine") is not None:
        combine = importlib.import_module("pipeline.combine")
        if hasattr(combine, "assign_speakers"):
            copies = [type(w)(**{**asdict(w), "speaker": None}) for w in words]
            labelled = combine.assign_speakers(copies, turns) or copies
            return [w.speaker for w in labelled], "pipeline.combine.assign_speakers"
    return _local_assign(words, turns), "bench.quality._local_assign"


def word_speaker_accuracy(meta: dict, words, speakers, mapping: dict) -> tuple[float, int]:
    """Share of aligned transcript words whose (mapped) speaker is the reference speaker."""
    import jiwer
    ref_tokens, ref_speakers = [], []
    for word in meta["words"]:
        for token in normalize(word["text"]):
            ref_tokens.append(token)
            ref_speakers.append(word["speaker"])
    hyp_tokens, hyp_speakers = [], []
    for word, speaker in zip(words, speakers):
        for token in normalize(word.text):
            hyp_tokens.append(token)
            hyp_speakers.append(mapping.get(speaker))
    if not ref_tokens or not hyp_tokens:
        return 0.0, 0
    output = jiwer.process_words(" ".join(ref_tokens), " ".join(hyp_tokens))
    right = total = 0
    for chunk in output.alignments[0]:
        if chunk.type not in ("equal", "substitute"):
            continue
        for r, h in zip(range(chunk.ref_start_idx, chunk.ref_end_idx), range(chunk.hyp_start_idx, chunk.hyp_end_idx)):
            total += 1
            right += hyp_speakers[h] == ref_speakers[r]
    return (right / total if total else 0.0), total


# ---------------------------------------------------------------- pipeline stages


def transcript_for(wav: Path, options) -> tuple[object, float | None]:
    """The faster-whisper transcript, cached by audio hash and model; returns (transcript, seconds or None)."""
    from pipeline.transcribe import compute_type_for, transcribe
    from pipeline.types import Transcript, Word
    digest = hashlib.sha256(wav.read_bytes()).hexdigest()[:16]
    key = f"{wav.stem}-{digest}-{Path(options.whisper_model).name}-{compute_type_for('cpu', options.compute_type)}"
    cache = OUT_DIR / "asr" / f"{key}.json"
    if cache.exists():
        data = json.loads(cache.read_text())
        return Transcript(**{**data, "words": [Word(**w) for w in data["words"]]}), None
    started = time.perf_counter()
    transcript = transcribe(str(wav), options)
    seconds = time.perf_counter() - started
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(asdict(transcript)))
    return transcript, seconds


def candidate_boundaries(transcript, turns, meta: dict, options) -> tuple[float, int] | None:
    """Share of clip candidates starting and ending on a reference sentence boundary; None without pipeline.candidates."""
    if importlib.util.find_spec("pipeline.candidates") is None:
        return None
    candidates_module = importlib.import_module("pipeline.candidates")
    candidates = _call_candidates(candidates_module, transcript, turns, options)
    if candidates is None:
        return None
    starts = np.array([s["start"] for s in meta["sentences"]])
    ends = np.array([s["end"] for s in meta["sentences"]])
    good = sum(1 for c in candidates
               if np.min(np.abs(starts - c.start)) <= SENTENCE_TOLERANCE and np.min(np.abs(ends - c.end)) <= SENTENCE_TOLERANCE)
    return (good / len(candidates) if candidates else float("nan")), len(candidates)


def _call_candidates(module, transcript, turns, options):
    """pipeline.combine.build_segments then pipeline.candidates.propose, as the pipeline runs them."""
    combine = importlib.import_module("pipeline.combine")
    if not hasattr(module, "propose") or not hasattr(combine, "build_segments"):
        return None
    words = [type(w)(**asdict(w)) for w in transcript.words]
    speakers, _ = assign_speakers(words, turns)
    for word, speaker in zip(words, speakers):
        word.speaker = speaker
    segments = combine.build_segments(words)
    return module.propose(segments, min_seconds=options.clip_min_seconds, max_seconds=options.clip_max_seconds)


def run_backend(backend: str, audio: np.ndarray, options):
    from pipeline import diarize
    from pipeline.options import no_progress
    started, cpu_started = time.perf_counter(), time.process_time()
    if backend == "embedded":
        turns = diarize.run_embedded(audio, options)
    else:
        turns = diarize.run_pyannote(audio, options, no_progress)
    return turns, time.perf_counter() - started, time.process_time() - cpu_started


def warm_up(backend: str, options, wav: Path) -> None:
    """Load models and run every step once on 30 s of real speech, so timings exclude start-up."""
    import soundfile
    from pipeline import embedded_diarizer
    if backend == "embedded":
        embedded_diarizer.warm_up()
    audio, _ = soundfile.read(wav, dtype="float32", frames=30 * embedded_diarizer.SAMPLE_RATE)
    run_backend(backend, audio, options)


# ---------------------------------------------------------------- report


def versions() -> dict:
    names = ["torch", "torchaudio", "faster-whisper", "ctranslate2", "resemblyzer", "scikit-learn", "numpy",
             "pyannote.audio", "pyannote.metrics", "jiwer"]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        found["espeak-ng"] = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.split()[3]
    except (OSError, IndexError):
        pass
    return found


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch
    return f"{os.cpu_count()} CPUs ({model}), torch threads {torch.get_num_threads()}, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def pct(value) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * value:.1f}"


def table(rows: list[dict], summary_rows: list[dict], asr: bool) -> list[str]:
    head = ["rec", "split", "audio s", "noise, overlap", "spk true", "spk found", "DER c0 %", "DER ±0.25 %", "diar RTF", "diar CPU-s/s"]
    if asr:
        head += ["WER %", "words right spk %", "cands on sentence %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows + summary_rows:
        cells = [r["name"], r.get("split", ""), f"{r['duration']:.0f}", r.get("conditions", ""), str(r["true_speakers"]), str(r["found_speakers"]),
                 pct(r["der0"]), pct(r["der25"]), f"{r['rtf']:.4f}", f"{r['cpu_rtf']:.4f}"]
        if asr:
            cands = r.get("candidates")
            cells += [pct(r.get("wer")), pct(r.get("words")),
                      "–" if cands is None else (f"{pct(cands[0])} (n={cands[1]})" if isinstance(cands, (list, tuple)) else pct(cands))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def der_parts(metric, reference, hypothesis) -> tuple[float, float, float]:
    """(DER, error seconds, reference speech seconds) so DER can be pooled over recordings."""
    parts = metric(reference, hypothesis, detailed=True)
    error = parts["false alarm"] + parts["missed detection"] + parts["confusion"]
    return (error / parts["total"] if parts["total"] else 0.0), error, parts["total"]


def summarize(rows: list[dict], name: str) -> dict:
    """Pooled DER, summed RTF, mean WER / word accuracy / candidate share, exact-count share."""
    def mean(key):
        values = [r[key] for r in rows if r.get(key) is not None and not np.isnan(r[key])]
        return float(np.mean(values)) if values else None
    candidates = [r["candidates"][0] for r in rows if r.get("candidates") and not np.isnan(r["candidates"][0])]
    exact = sum(r["true_speakers"] == r["found_speakers"] for r in rows)
    duration = sum(r["duration"] for r in rows)
    return {
        "name": name, "split": "", "duration": duration,
        "true_speakers": "", "found_speakers": f"exact {exact}/{len(rows)}", "count_exact": exact / len(rows),
        "der0": sum(r["der0_error"] for r in rows) / sum(r["speech"] for r in rows),
        "der25": sum(r["der25_error"] for r in rows) / sum(r["der25_total"] for r in rows),
        "rtf": sum(r["diar_seconds"] for r in rows) / duration,
        "cpu_rtf": sum(r["diar_cpu_seconds"] for r in rows) / duration,
        "wer": mean("wer"), "words": mean("words"), "candidates": float(np.mean(candidates)) if candidates else None,
    }


def summaries(rows: list[dict]) -> list[dict]:
    """One summary per split present, and one over all when both are."""
    out = [summarize([r for r in rows if r["split"] == name], f"**{name}**")
           for name in ("dev", "heldout") if any(r["split"] == name for r in rows)]
    if len(out) > 1:
        out.append(summarize(rows, "**all**"))
    return out


def evaluate(split: str, backends: list[str], skip_asr: bool, options, repeat: int = 1) -> dict:
    from pyannote.metrics.diarization import DiarizationErrorRate
    import soundfile

    warnings.filterwarnings("ignore", message="'uem' was approximated")
    index = dialogues.load_index()
    chosen = [e for e in index if split == "all" or e["split"] == split]
    results: dict = {}
    for backend in backends:
        warm_up(backend, options, dialogues.DATA_DIR / chosen[0]["wav"])
        der0, der25 = DiarizationErrorRate(collar=0.0), DiarizationErrorRate(collar=0.5)
        rows = []
        for entry in chosen:
            wav = dialogues.DATA_DIR / entry["wav"]
            meta = json.loads((dialogues.DATA_DIR / entry["json"]).read_text())
            audio, _ = soundfile.read(wav, dtype="float32")
            turns, seconds, cpu_seconds = run_backend(backend, audio, options)
            for _ in range(repeat - 1):  # other jobs on the machine only ever slow a run down: keep the fastest
                _, again, cpu_again = run_backend(backend, audio, options)
                seconds, cpu_seconds = min(seconds, again), min(cpu_seconds, cpu_again)
            reference = annotation(read_rttm(dialogues.DATA_DIR / entry["rttm"]), entry["name"])
            hypothesis = annotation([(t.start, t.end, t.speaker) for t in turns], entry["name"])
            noise = f"{entry['noise'].replace('noise', '')} {entry['snr_db']:g} dB" if entry.get("noise") else "clean"
            row = {"name": entry["name"], "split": entry["split"], "duration": entry["duration"],
                   "conditions": f"{noise}, overlap {entry.get('overlap_seconds', 0):.1f} s",
                   "true_speakers": len(reference.labels()), "found_speakers": len(hypothesis.labels()),
                   "diar_seconds": seconds, "rtf": seconds / entry["duration"],
                   "diar_cpu_seconds": cpu_seconds, "cpu_rtf": cpu_seconds / entry["duration"]}
            row["der0"], row["der0_error"], row["speech"] = der_parts(der0, reference, hypothesis)
            row["der25"], row["der25_error"], row["der25_total"] = der_parts(der25, reference, hypothesis)
            if not skip_asr:
                import jiwer
                transcript, asr_seconds = transcript_for(wav, options)
                row["asr_rtf"] = None if asr_seconds is None else asr_seconds / entry["duration"]
                reference_text = " ".join(t for w in meta["words"] for t in normalize(w["text"]))
                hypothesis_text = " ".join(t for w in transcript.words for t in normalize(w.text))
                row["wer"] = jiwer.wer(reference_text, hypothesis_text) if hypothesis_text else 1.0
                speakers, row["assigner"] = assign_speakers(transcript.words, turns)
                mapping = der0.optimal_mapping(reference, hypothesis)
                row["words"], row["aligned_words"] = word_speaker_accuracy(meta, transcript.words, speakers, mapping)
                row["candidates"] = candidate_boundaries(transcript, turns, meta, options)
            rows.append(row)
            print(f"{backend:9s} {row['name']} {row['split']:7s} {row['duration']:6.1f}s spk {row['true_speakers']}/{row['found_speakers']} "
                  f"DER0 {pct(row['der0']):>5} DER±.25 {pct(row['der25']):>5} RTF {row['rtf']:.4f}"
                  + ("" if skip_asr else f" WER {pct(row['wer']):>5} words {pct(row['words']):>5}"), flush=True)
        results[backend] = {"rows": rows, "summaries": summaries(rows)}
    return results


def check_targets(summary: dict, asr: bool) -> str:
    checks = [f"DER ±0.25 {pct(summary['der25'])} % (≤ {100 * TARGETS['der']:.0f}) "
              f"{'ok' if summary['der25'] <= TARGETS['der'] else 'MISSED'}",
              f"count exact {pct(summary['count_exact'])} % (≥ {100 * TARGETS['count']:.0f}) "
              f"{'ok' if summary['count_exact'] >= TARGETS['count'] else 'MISSED'}",
              f"RTF {summary['rtf']:.4f} (< {TARGETS['rtf']}) {'ok' if summary['rtf'] < TARGETS['rtf'] else 'MISSED'}"]
    if asr and summary.get("words") is not None:
        checks.append(f"words right speaker {pct(summary['words'])} % (≥ {100 * TARGETS['words']:.0f}) "
                      f"{'ok' if summary['words'] >= TARGETS['words'] else 'MISSED'}")
    return "; ".join(checks)


def write_doc(results: dict, args, options, asr: bool, command: str, load: tuple[float, float]) -> None:
    lines = [
        "# Quality benchmark",
        "",
        "Synthetic dialogues from `python -m bench.dialogues` (espeak-ng voices, exact references in",
        "`bench/data/NN.rttm` and `NN.json`; recordings 11-16 are the held-back split, never used for tuning),",
        "scored by `python -m bench.quality`. Regenerate this file with:",
        "",
        f"    {command}",
        "",
        f"- Machine: {machine()}; 1-minute load average {load[0]:.1f} before the run, {load[1]:.1f} after"
        + (f"; diarization timed as the fastest of {args.repeat} runs per recording" if args.repeat > 1 else ""),
        f"- Whisper model: `{options.whisper_model}` on CPU, compute type "
        f"`{__import__('pipeline.transcribe', fromlist=['x']).compute_type_for('cpu', options.compute_type)}`"
        + ("" if asr else " (not run: --skip-asr)"),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- Date: {time.strftime('%Y-%m-%d')}",
        "",
        "Columns: DER from pyannote.metrics with overlapped speech scored; **DER c0** is collar=0 and",
        "**DER ±0.25** is pyannote `collar=0.5` (pyannote's collar is the total width, so ±0.25 s around each",
        "reference boundary). Summary rows pool DER over their recordings (total error / total speech) and",
        "give RTF as total diarization time / total audio (measured after warm-up). WER uses normalised text",
        "(lowercase, numbers spelled out, punctuation dropped). *Words right spk* aligns the transcript to the",
        "reference words and counts aligned words whose speaker (hypothesis label mapped to the reference by",
        "the optimal DER mapping) is the true one. *Cands on sentence* is the share of clip candidates whose",
        f"start and end lie within {SENTENCE_TOLERANCE} s of a reference sentence start and end.",
        "",
        f"Targets on the held-back split: DER ±0.25 ≤ {100 * TARGETS['der']:.0f} %, exact speaker count on ≥ "
        f"{100 * TARGETS['count']:.0f} % of recordings, ≥ {100 * TARGETS['words']:.0f} % of words with the right "
        f"speaker, diarization RTF < {TARGETS['rtf']}.",
    ]
    for backend, result in results.items():
        lines += ["", f"## Backend: {backend}", ""]
        lines += table(result["rows"], result["summaries"], asr)
        lines.append("")
        for summary in result["summaries"]:
            lines.append(f"- {summary['name'].strip('*')}: {check_targets(summary, asr)}")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--backends", default="embedded,pyannote",
                        help="comma-separated; pyannote runs only when configured")
    parser.add_argument("--skip-asr", action="store_true", help="diarization metrics only (fast)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="diarize each recording N times and time the fastest (for a busy machine)")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    args = parser.parse_args(argv)

    from pipeline.diarize import pyannote_configured
    from pipeline.options import AnalysisOptions
    options = AnalysisOptions(models_dir=str(ROOT / "instance" / "models"))
    backends = []
    for backend in args.backends.split(","):
        backend = backend.strip()
        if backend == "pyannote" and not pyannote_configured(options):
            print("pyannote: not configured (no HUGGING_FACE_TOKEN / local pipeline) - skipped")
            continue
        if backend in ("embedded", "pyannote"):
            backends.append(backend)
    if not backends:
        parser.error("no backend to run")
    load_before = os.getloadavg()[0]
    results = evaluate(args.split, backends, args.skip_asr, options, args.repeat)
    load = (load_before, os.getloadavg()[0])
    asr = not args.skip_asr
    for backend, result in results.items():
        print(f"\n{backend}:")
        print("\n".join(table(result["rows"], result["summaries"], asr)))
        for summary in result["summaries"]:
            print(f"{summary['name'].strip('*')}: {check_targets(summary, asr)}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / f"results-{args.split}.json").write_text(json.dumps(results, indent=1, default=str))
    command = "python -m bench.quality " + " ".join(a for a in (argv if argv is not None else __import__("sys").argv[1:]))
    if not args.no_write:
        write_doc(results, args, options, asr, command.strip(), load)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
