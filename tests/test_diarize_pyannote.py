"""The pyannote backend of pipeline.diarize, on a real pyannote.audio 4 pipeline built locally.

The pipeline (tests/pyannote_local.py) has random weights, so these tests prove the plumbing
(Pipeline.from_pretrained on a folder, in-memory waveform, hook, DiarizeOutput -> SpeakerTurn,
'auto' fallback), not diarization accuracy.
"""
from __future__ import annotations

import pytest

from pipeline import diarize
from pipeline.errors import DiarizationError
from pipeline.options import AnalysisOptions
from pipeline.types import SpeakerTurn
from tests.media import INTERVIEW, dialogue
from tests.pyannote_local import build_local_pipeline


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No telemetry, no Hub: anything that tried the network would fail instead."""
    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "false")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    diarize._load_pyannote.cache_clear()
    yield
    diarize._load_pyannote.cache_clear()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return dialogue(INTERVIEW[:3], tmp_path_factory.mktemp("audio") / "d.wav")


@pytest.fixture(scope="module")
def local_pipeline(tmp_path_factory):
    return build_local_pipeline(tmp_path_factory.mktemp("pyannote") / "pipeline")


def check_turns(turns, duration):
    assert turns, "a random-weight pipeline still labels the speech it segments"
    for turn in turns:
        assert isinstance(turn, SpeakerTurn)
        assert 0.0 <= turn.start < turn.end <= duration + 0.05
        assert turn.speaker.startswith("SPEAKER_")


def test_pyannote_backend_runs_a_local_pipeline_through_from_pretrained(tmp_path, recording):
    pipeline_dir = build_local_pipeline(tmp_path / "pipeline")
    assert (pipeline_dir / "config.yaml").is_file()
    steps = []
    options = AnalysisOptions(diarization="pyannote", pyannote_pipeline=str(pipeline_dir),
                              models_dir=str(tmp_path))

    result = diarize.diarize(str(recording.wav), options, lambda stage, fraction, detail="":
                             steps.append((stage, fraction, detail)))

    assert result.backend == "pyannote"
    assert result.reason == f"requested: {pipeline_dir}"
    check_turns(result.turns, recording.duration)
    assert result.speakers == sorted({turn.speaker for turn in result.turns})
    # pyannote's hook reported its steps through our progress callback, always within 0..1.
    details = {detail for _, _, detail in steps}
    assert {"segmentation", "embeddings"} <= details
    assert all(stage == "diarize" and 0.0 <= fraction <= 1.0 for stage, fraction, _ in steps)


def test_auto_uses_local_pyannote_pipeline_when_configured(tmp_path, recording, local_pipeline):
    options = AnalysisOptions(diarization="auto", pyannote_pipeline=str(local_pipeline),
                              hf_token=None, models_dir=str(tmp_path))

    result = diarize.diarize(str(recording.wav), options)

    assert result.backend == "pyannote"
    assert result.reason == f"auto: {local_pipeline} loaded"
    check_turns(result.turns, recording.duration)


def test_auto_without_token_records_embedded_backend(tmp_path, monkeypatch, recording):
    monkeypatch.chdir(tmp_path)  # so the default id cannot happen to name a local folder
    options = AnalysisOptions(diarization="auto", hf_token=None, models_dir=str(tmp_path))
    assert options.pyannote_pipeline == "pyannote/speaker-diarization-community-1"

    result = diarize.diarize(str(recording.wav), options)

    assert result.backend == "embedded"
    assert "no hugging face token" in result.reason.lower()
    assert result.turns and all(isinstance(turn, SpeakerTurn) for turn in result.turns)


def test_auto_falls_back_when_pipeline_cannot_load(tmp_path, recording):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("pipeline: {name: [this is not\n")

    auto = diarize.diarize(str(recording.wav), AnalysisOptions(
        diarization="auto", pyannote_pipeline=str(broken), models_dir=str(tmp_path)))

    assert auto.backend == "embedded"
    assert "pyannote unavailable" in auto.reason
    assert str(broken) in auto.reason
    assert auto.turns

    with pytest.raises(DiarizationError) as raised:
        diarize.diarize(str(recording.wav), AnalysisOptions(
            diarization="pyannote", pyannote_pipeline=str(broken), models_dir=str(tmp_path)))
    message = str(raised.value)
    assert message.startswith(f"Could not load the pyannote pipeline '{broken}': ")
    assert "\n" not in message and len(message) < 400
    assert "Traceback" not in message
