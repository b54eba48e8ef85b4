"""Who spoke when: pyannote.audio when configured, the embedded diarizer otherwise."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from . import embedded_diarizer
from .errors import DiarizationError
from .options import AnalysisOptions, ProgressCallback, no_progress
from .types import Diarization, SpeakerTurn

# A self-hosted tool must not phone home: pyannote.audio 4 sends telemetry by default.
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")


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


def run_pyannote(audio: np.ndarray, options: AnalysisOptions, progress: ProgressCallback) -> list[SpeakerTurn]:
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
    return [SpeakerTurn(start=start, end=end, speaker=names[label]) for start, end, label in tracks]


def run_embedded(audio: np.ndarray, options: AnalysisOptions) -> list[SpeakerTurn]:
    count = embedded_diarizer.SpeakerCount(
        exact=options.num_speakers, minimum=options.min_speakers or 1, maximum=options.max_speakers or 8)
    return embedded_diarizer.diarize_audio(audio, count)


def diarize(wav_path: str, options: AnalysisOptions, progress: ProgressCallback = no_progress) -> Diarization:
    """Run the chosen backend; 'auto' falls back to embedded and records why."""
    audio = read_wav(wav_path)
    progress("diarize", 0.0, options.diarization)
    if options.diarization == "pyannote":
        turns = run_pyannote(audio, options, progress)
        result = Diarization(turns, "pyannote", f"requested: {options.pyannote_pipeline}")
    elif options.diarization == "auto" and pyannote_configured(options):
        try:
            turns = run_pyannote(audio, options, progress)
            result = Diarization(turns, "pyannote", f"auto: {options.pyannote_pipeline} loaded")
        except DiarizationError as error:
            result = Diarization(run_embedded(audio, options), "embedded", f"auto: pyannote unavailable ({error})")
    elif options.diarization == "auto":
        result = Diarization(run_embedded(audio, options), "embedded",
                             "auto: no Hugging Face token or local pyannote pipeline configured")
    else:
        result = Diarization(run_embedded(audio, options), "embedded", "requested")
    progress("diarize", 1.0, f"{len(result.speakers)} speakers")
    return result
