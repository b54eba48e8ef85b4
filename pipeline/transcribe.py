"""Speech to words with faster-whisper: word timestamps, VAD filter, progress by position.

Decoding is faster-whisper's sequential pass with its defaults. Its BatchedInferencePipeline was
measured here (Whisper base int8, bench/dialogues dev split): 0.10-0.13 x real time against 0.19,
but a pooled WER of 12.5-16.7 % against 11.0 %, chunking at short pauses and without the previous
text as context. A smaller beam was measured too: beam 3 decodes the 183 s dialogue of bench.speed in
27 s against 34-38 s for the default 5, but the held-back WER rose (beam 3: 11.3 %, beam 4: 11.0 %,
beam 5: 10.7 %). So was decoding two pieces side by side, one per core: the analysis took 0.92 x
the bare pass quiet and 1.02 with one core busy, and the WER rose on both synthetic splits
(docs/diarization.md). The time is won back instead by diarizing beside the transcription (pipeline.threads),
by running the encoder on every core while the beam search keeps one, and by encoding the first window
once (both in _WhisperModel).

Long audio is transcribed in pieces of about five minutes, each cut at its quietest moment near
the end: faster-whisper computes the features of all the audio it is given at once, which for an
hour peaked at 2.5 GB. A piece starts without the previous piece's text as context; at five
minutes that is one 30 s window in ten.
"""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator

import ctranslate2
import numpy as np
import soundfile
from faster_whisper import WhisperModel
from faster_whisper.utils import download_model

from . import heap, silero, threads  # silero: faster-whisper's VAD filter shares its Silero run
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


class _DecoderApart:
    """A CTranslate2 Whisper whose beam search (`generate`) runs on a second instance of the same
    model with its own thread count; encoding, alignment and the rest stay on the first."""

    def __init__(self, model: ctranslate2.models.Whisper, decoder: ctranslate2.models.Whisper):
        self._model, self._decoder = model, decoder

    def generate(self, *args, **kwargs):
        return self._decoder.generate(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._model, name)


class _WhisperModel(WhisperModel):
    """faster-whisper 1.2 as the pipeline runs it on CPU, with the same words (tests/test_models.py):

    - the encoder and word aligner run on `cpu_threads`, the beam search on `decoder_threads`,
      since a second thread slows the one and speeds up the others (pipeline.threads);
    - the first 30 s are encoded once, not twice when the language is detected (once to detect it,
      once to decode: about 1.2 s of 32 for 3 minutes of audio on one core): the same features give
      the same encoder output, so the last one is kept for the next call.
    """

    def __init__(self, model_path: str, device: str, compute_type: str, cpu_threads: int, decoder_threads: int):
        super().__init__(model_path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
        if device == "cpu" and decoder_threads != cpu_threads:
            self.model = _DecoderApart(self.model, ctranslate2.models.Whisper(
                model_path, device=device, compute_type=compute_type, intra_threads=decoder_threads))
        self._last_encoded = threading.local()

    def encode(self, features: np.ndarray):
        last = getattr(self._last_encoded, "pair", None)
        self._last_encoded.pair = None
        if last is not None and np.array_equal(last[0], features):
            return last[1]
        output = super().encode(features)
        self._last_encoded.pair = (features.copy(), output)
        return output


@functools.lru_cache(maxsize=1)
def _load(model: str, device: str, compute_type: str):
    """One model kept at a time: it holds two CTranslate2 copies (see _WhisperModel), jobs run one
    after another, and a second cached model would keep its memory after the user switched."""
    model_path = model if os.path.isdir(model) else download_model(model)
    whisper = _WhisperModel(model_path, device, compute_type, cpu_threads=threads.whisper_encoder_threads(),
                            decoder_threads=threads.WHISPER_DECODER_THREADS)
    heap.release_free_memory()  # what reading and quantising the weights used
    return whisper


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
        return _load(model, device, compute_type_for(device, options.compute_type))
    except Exception as error:  # hub, disk and CTranslate2 errors all mean "no model"
        raise ModelError(
            f"Could not load the Whisper model '{options.whisper_model}' ({type(error).__name__}). "
            "It is not on this machine and could not be downloaded: set FASTER_WHISPER_MODEL=base "
            "(bundled) or to a local model folder."
        ) from None


PIECE_SECONDS = 300.0
CUT_SEARCH_SECONDS = 20.0  # a piece ends in the quietest half second of its last this many seconds


def _quietest(audio: np.ndarray, rate: int) -> int:
    """Sample offset of the middle of the quietest half second: a pause, not the closure of a 'p'."""
    frame, span = rate // 20, 10  # 50 ms frames, 500 ms spans
    energy = np.square(audio[:len(audio) // frame * frame].reshape(-1, frame)).mean(axis=1)
    spans = np.convolve(energy, np.ones(span), mode="valid")
    return int(np.argmin(spans)) * frame + span * frame // 2


def pieces(wav_path: str, piece_seconds: float = PIECE_SECONDS) -> Iterator[tuple[float, np.ndarray]]:
    """(start in seconds, float32 samples) of consecutive pieces covering the whole WAV."""
    with soundfile.SoundFile(wav_path) as wav:
        rate, total = wav.samplerate, wav.frames
        piece, search = int(piece_seconds * rate), int(min(CUT_SEARCH_SECONDS, piece_seconds / 2) * rate)
        start, end = 0, None
        while end != total:  # at least one piece, so an empty WAV is one empty piece
            end = start + piece
            if end + search >= total:
                end = total
            else:
                wav.seek(end - search)
                end = end - search + _quietest(wav.read(search, dtype="float32", always_2d=True).mean(axis=1), rate)
            wav.seek(start)
            yield start / rate, wav.read(end - start, dtype="float32", always_2d=True).mean(axis=1)
            start = end


def transcribe(wav_path: str, options: AnalysisOptions, progress: ProgressCallback = no_progress,
               piece_seconds: float = PIECE_SECONDS) -> Transcript:
    """Transcribe a 16 kHz WAV into timed words; silence gives an empty transcript.

    Unless the options name it, the language is detected on the first piece with words and kept.
    """
    model = load_model(options)
    duration = soundfile.info(wav_path).duration
    detected = None  # (language, probability)
    words: list[Word] = []
    for offset, audio in pieces(wav_path, piece_seconds):
        language = options.language or (detected and detected[0])
        segments, info = model.transcribe(audio, language=language, word_timestamps=True, vad_filter=True)
        if offset == 0:
            progress("transcribe", 0.0, f"language {info.language}")
        for segment in segments:
            for word in segment.words or []:
                text = word.word.strip()
                if text:
                    words.append(Word(start=round(offset + word.start, 3), end=round(offset + word.end, 3),
                                      text=text, probability=round(word.probability, 3)))
            end = offset + segment.end
            progress("transcribe", min(end / duration, 1.0), f"{end:.0f}/{duration:.0f} s")
        if detected is None and words:
            detected = (info.language, info.language_probability)
    language, probability = detected or (info.language, info.language_probability)
    progress("transcribe", 1.0, "done")
    return Transcript(language=language, language_probability=round(probability, 3), duration=duration, words=words)
