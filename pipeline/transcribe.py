"""Speech to words with faster-whisper: word timestamps, VAD filter, progress by position.

Decoding is faster-whisper's sequential pass with its defaults. Its BatchedInferencePipeline was
measured here (Whisper base int8, bench/dialogues dev split): 0.10-0.13 x real time against 0.19,
but a pooled WER of 12.5-16.7 % against 11.0 %, chunking at short pauses and without the previous
text as context. The time is won back instead by diarizing beside the transcription (pipeline.threads).
"""
from __future__ import annotations

import functools

import ctranslate2
from faster_whisper import WhisperModel

from . import threads
from .errors import ModelError
from .models import resolve_whisper_model
from .options import AnalysisOptions, ProgressCallback, no_progress
from .types import Transcript, Word


def _device(requested: str) -> str:
    if requested != "auto":
        return requested
    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def compute_type_for(device: str, requested: str) -> str:
    """int8 on CPU and float16 on CUDA unless the user chose one."""
    if requested and requested != "default":
        return requested
    return "float16" if device == "cuda" else "int8"


def cpu_threads_for(requested: int) -> int:
    return requested or threads.whisper_threads()


@functools.lru_cache(maxsize=2)
def _load(model: str, device: str, compute_type: str, cpu_threads: int):
    return WhisperModel(model, device=device, compute_type=compute_type, cpu_threads=cpu_threads)


def model_identity(options: AnalysisOptions) -> dict:
    """What decides the transcript: recorded with it, so a change of any of these transcribes again."""
    from importlib import metadata
    device = _device(options.device)
    return {"model": options.whisper_model, "device": device,
            "compute_type": compute_type_for(device, options.compute_type), "language": options.language,
            "faster-whisper": metadata.version("faster-whisper"), "ctranslate2": metadata.version("ctranslate2")}


def load_model(options: AnalysisOptions):
    """Load (once per process) the Whisper model the options name."""
    model = resolve_whisper_model(options.whisper_model, options.models_dir)
    device = _device(options.device)
    try:
        return _load(model, device, compute_type_for(device, options.compute_type), cpu_threads_for(options.cpu_threads))
    except Exception as error:  # hub, disk and CTranslate2 errors all mean "no model"
        raise ModelError(
            f"Could not load the Whisper model '{options.whisper_model}' ({type(error).__name__}). "
            "It is not on this machine and could not be downloaded: set FASTER_WHISPER_MODEL=base "
            "(bundled) or to a local model folder."
        ) from None


def transcribe(wav_path: str, options: AnalysisOptions, progress: ProgressCallback = no_progress) -> Transcript:
    """Transcribe a 16 kHz WAV into timed words; silence gives an empty transcript."""
    model = load_model(options)
    segments, info = model.transcribe(wav_path, language=options.language, word_timestamps=True, vad_filter=True)
    words: list[Word] = []
    progress("transcribe", 0.0, f"language {info.language}")
    for segment in segments:
        for word in segment.words or []:
            text = word.word.strip()
            if text:
                words.append(Word(start=round(word.start, 3), end=round(word.end, 3),
                                  text=text, probability=round(word.probability, 3)))
        if info.duration:
            progress("transcribe", min(segment.end / info.duration, 1.0), f"{segment.end:.0f}/{info.duration:.0f} s")
    progress("transcribe", 1.0, "done")
    return Transcript(language=info.language, language_probability=round(info.language_probability, 3),
                      duration=info.duration, words=words)
