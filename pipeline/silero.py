"""Silero VAD (bundled with faster-whisper) runs once per stretch of audio, however many callers
segment it.

faster-whisper's VAD filter and the embedded diarizer's two segmentations (speech, and phrases
between short pauses) each call faster_whisper.vad.get_speech_timestamps, which runs Silero over
the audio and then applies its own thresholds. The probabilities depend on the samples alone, so
the model that function fetches (faster_whisper.vad.get_vad_model) is wrapped to remember them by
the samples' digest. That function takes audio, never probabilities (Silero's own neither:
snakers4/silero-vad#273), so this is the one way in; faster-whisper is pinned, and
tests/test_silero.py checks that the wrapped model is the one used.
"""
from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict

import faster_whisper.vad
import numpy as np

REMEMBERED = 32  # stretches: a job's Whisper pieces and diarizer blocks (each a few kB of probabilities)


class _Remembering:
    """Silero's probabilities by audio digest. The lock is held while computing, so a second caller
    with the same audio waits for the first one's result instead of computing it again. Callers
    share the arrays, so they are read-only: a change in place fails instead of reaching another."""

    def __init__(self, model):
        self._model = model
        self._lock = threading.Lock()
        self._probabilities: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.runs = 0

    def __call__(self, audio: np.ndarray, *args, **kwargs) -> np.ndarray:
        digest = hashlib.blake2b(np.ascontiguousarray(audio).view(np.uint8), digest_size=16).digest()
        key = (audio.shape, audio.dtype.str, digest, args, tuple(sorted(kwargs.items())))
        with self._lock:
            if key in self._probabilities:
                self._probabilities.move_to_end(key)
                return self._probabilities[key]
            probabilities = self._model(audio, *args, **kwargs)
            probabilities.setflags(write=False)
            self.runs += 1
            self._probabilities[key] = probabilities
            if len(self._probabilities) > REMEMBERED:
                self._probabilities.popitem(last=False)
            return probabilities


_library_model = faster_whisper.vad.get_vad_model


@functools.lru_cache(maxsize=1)
def shared_model() -> _Remembering:
    """The one Silero model of this process, remembering what it computed."""
    return _Remembering(_library_model())


faster_whisper.vad.get_vad_model = shared_model
