"""Who spoke when: the embedded diarizer, or pyannote.audio when the user configured a pipeline."""
from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import campplus, embedded_diarizer, utterances
from .errors import DiarizationError
from .options import AnalysisOptions, ProgressCallback, no_progress
from .types import Diarization, SpeakerTurn

# A self-hosted tool must not phone home: pyannote.audio 4 sends telemetry by default.
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

EMBEDDED_VOICEPRINT_MODEL = "campplus-cn-en-common"


def read_wav(path: str) -> np.ndarray:
    import soundfile
    audio, rate = soundfile.read(path, dtype="float32", always_2d=False)
    if rate != embedded_diarizer.SAMPLE_RATE:
        raise DiarizationError(f"Expected 16 kHz audio, got {rate} Hz.")
    return audio if audio.ndim == 1 else audio.mean(axis=1)


def pyannote_configured(options: AnalysisOptions) -> bool:
    """A token, or a pipeline folder on this machine, makes pyannote worth trying."""
    return bool(options.hf_token) or Path(options.pyannote_pipeline).is_dir()


@functools.lru_cache(maxsize=2)
def _load_pyannote(pipeline_id: str, token: str | None):
    if not token:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    else:
        _reach_the_hub()
    from pyannote.audio import Pipeline
    try:
        pipeline = Pipeline.from_pretrained(pipeline_id, token=token)
    except Exception as error:
        raise DiarizationError(f"Could not load the pyannote pipeline '{pipeline_id}': "
                               f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}") from None
    if pipeline is None:
        raise DiarizationError(f"Could not load the pyannote pipeline '{pipeline_id}': "
                               "check HUGGING_FACE_TOKEN and that you accepted its user conditions.")
    import torch
    if torch.cuda.is_available():
        pipeline.to(torch.device("cuda"))
    return pipeline


def _reach_the_hub() -> None:
    """A token means the person wants the hub. The app starts offline when it has none, and a token
    may be given later on the Settings page; huggingface_hub reads HF_HUB_OFFLINE once, at import, so
    its own switch is turned off here (and the variable, for processes started from here)."""
    os.environ["HF_HUB_OFFLINE"] = "0"
    from huggingface_hub import constants
    constants.HF_HUB_OFFLINE = False


def _speaker_kwargs(options: AnalysisOptions) -> dict:
    kwargs = {}
    if options.num_speakers:
        kwargs["num_speakers"] = options.num_speakers
    else:
        if options.min_speakers:
            kwargs["min_speakers"] = options.min_speakers
        if options.max_speakers:
            kwargs["max_speakers"] = options.max_speakers
    return kwargs


def run_pyannote(audio: np.ndarray, options: AnalysisOptions,
                 progress: ProgressCallback) -> tuple[list[SpeakerTurn], dict[str, list[float]]]:
    """Turns (overlapping where pyannote heard two people) and its per-speaker embeddings."""
    import torch
    pipeline = _load_pyannote(options.pyannote_pipeline, options.hf_token or None)

    def hook(step_name, step_artifact, file=None, total=None, completed=None):
        if total:
            # pyannote's inference reports completed = chunk index + batch size, which overshoots total
            progress("diarize", min(1.0, float(completed) / total), step_name)

    # Audio passed in memory: pyannote then needs no decoder of its own.
    file = {"waveform": torch.from_numpy(audio).unsqueeze(0), "sample_rate": embedded_diarizer.SAMPLE_RATE}
    output = pipeline(file, hook=hook, **_speaker_kwargs(options))
    # pyannote.audio 4 returns DiarizeOutput; 3.x pipelines return the Annotation itself.
    annotation = getattr(output, "speaker_diarization", output)
    # pyannote zero-pads the last window and can label speech in that padding, past the end of
    # the audio (pyannote/pyannote-audio#1611): clip turns to the audio.
    duration = len(audio) / embedded_diarizer.SAMPLE_RATE
    tracks = [(round(seg.start, 3), round(min(seg.end, duration), 3), label)
              for seg, _, label in annotation.itertracks(yield_label=True)]
    tracks = [track for track in tracks if track[0] < track[1]]
    names = {label: f"SPEAKER_{i:02d}" for i, label in enumerate(dict.fromkeys(label for *_, label in tracks))}
    voiceprints = {}
    embeddings = getattr(output, "speaker_embeddings", None)
    if embeddings is not None:
        for label, vector in zip(annotation.labels(), embeddings):
            norm = float(np.linalg.norm(vector))
            if label in names and norm > 0:
                voiceprints[names[label]] = [round(float(x) / norm, 5) for x in vector]
    return [SpeakerTurn(start=start, end=end, speaker=names[label]) for start, end, label in tracks], voiceprints


def identity(options: AnalysisOptions) -> dict:
    """What decides the turns: recorded with them, so a change of any of these diarizes again.

    The embedded diarizer's own source is part of it (a tuning change is a new diarizer);
    the token's value never is, only whether one is set.
    """
    from importlib import metadata
    code = hashlib.sha256(b"".join(Path(module.__file__).read_bytes()
                                   for module in (embedded_diarizer, utterances, campplus))).hexdigest()[:12]
    return {"backend": options.diarization, "pyannote_pipeline": options.pyannote_pipeline,
            "token": bool(options.hf_token), "speakers": [options.num_speakers, options.min_speakers, options.max_speakers],
            "embedded_diarizer": code, "pyannote.audio": metadata.version("pyannote.audio")}


def speaker_count(options: AnalysisOptions) -> embedded_diarizer.SpeakerCount:
    return embedded_diarizer.SpeakerCount(
        exact=options.num_speakers, minimum=options.min_speakers or 1, maximum=options.max_speakers or 8)


@dataclass
class Listening:
    """Diarization's first part, done while Whisper transcribes: a finished pyannote result, or the
    embedded diarizer's evidence waiting for the transcript's words."""
    audio: np.ndarray
    backend: str
    reason: str
    result: Diarization | None = None
    evidence: embedded_diarizer.Evidence | None = None


def listen(wav_path: str, options: AnalysisOptions, progress: ProgressCallback = no_progress) -> Listening:
    """Run the chosen backend as far as it can go without the transcript; 'auto' falls back to
    embedded and records why. `progress` is only called from pyannote's own steps."""
    audio = read_wav(wav_path)
    if options.diarization == "pyannote":
        return _pyannote(audio, options, progress, f"requested: {options.pyannote_pipeline}")
    reason = "requested"
    if options.diarization == "auto" and pyannote_configured(options):
        try:
            return _pyannote(audio, options, progress, f"auto: {options.pyannote_pipeline} loaded")
        except DiarizationError as error:
            reason = f"auto: pyannote unavailable ({error})"
    elif options.diarization == "auto":
        reason = "auto: no Hugging Face token or local pyannote pipeline configured"
    return Listening(audio, "embedded", reason, evidence=embedded_diarizer.listen(audio))


def finish(listening: Listening, options: AnalysisOptions, heard: list[tuple[float, float]] = ()) -> Diarization:
    """Speaker turns, given the stretches the transcript has words in (see embedded_diarizer.hear_words)."""
    if listening.result is not None:
        return listening.result
    evidence = embedded_diarizer.hear_words(listening.evidence, listening.audio, heard)
    speakers = embedded_diarizer.label(evidence, speaker_count(options))
    return Diarization(speakers.turns, "embedded", listening.reason, speakers.voiceprints, EMBEDDED_VOICEPRINT_MODEL)


def _pyannote(audio, options, progress, reason: str) -> Listening:
    turns, voiceprints = run_pyannote(audio, options, progress)
    return Listening(audio, "pyannote", reason,
                     result=Diarization(turns, "pyannote", reason, voiceprints, options.pyannote_pipeline))


def diarize(wav_path: str, options: AnalysisOptions, progress: ProgressCallback = no_progress,
            heard: list[tuple[float, float]] = ()) -> Diarization:
    """Both parts at once, for a transcript that already exists."""
    progress("diarize", 0.0, options.diarization)
    result = finish(listen(wav_path, options, progress), options, heard)
    progress("diarize", 1.0, f"{len(result.speakers)} speakers")
    return result


def warm_up() -> None:
    """Load the speaker models and run them once, off the request path."""
    embedded_diarizer.warm_up()
