"""The offline diarizer on generated dialogue: right speakers, honoured speaker-count options."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pipeline import diarize, embedded_diarizer
from pipeline.embedded_diarizer import SpeakerCount
from tests.conftest import MODELS_DIR, REPO


@pytest.fixture(scope="module")
def interview_audio(interview):
    return diarize.read_wav(str(interview.wav))


def speaker_agreement(turns, recording) -> float:
    """Share of reference speech time whose hypothesis speaker maps to the right reference speaker."""
    frames = np.arange(0, recording.duration, 0.05)
    pairs = []
    for t in frames:
        truth = recording.speaker_at(t)
        guess = next((turn.speaker for turn in turns if turn.start <= t < turn.end), None)
        if truth is not None:
            pairs.append((truth, guess))
    mapping = {}
    for guess in {g for _, g in pairs if g}:
        votes = [truth for truth, g in pairs if g == guess]
        mapping[guess] = max(set(votes), key=votes.count)
    return sum(mapping.get(g) == truth for truth, g in pairs) / len(pairs)


def test_finds_both_speakers_of_the_interview(interview, interview_audio):
    turns = embedded_diarizer.diarize_audio(interview_audio)
    assert {turn.speaker for turn in turns} == {"SPEAKER_00", "SPEAKER_01"}
    assert speaker_agreement(turns, interview) >= 0.9
    assert all(0 <= turn.start < turn.end <= interview.duration + 0.01 for turn in turns)


@pytest.mark.parametrize("count, expected", [
    (SpeakerCount(exact=1), {1}),
    (SpeakerCount(exact=3), {3}),
    (SpeakerCount(maximum=1), {1}),
    (SpeakerCount(minimum=3), {3, 4, 5, 6, 7, 8}),
])
def test_speaker_count_options_are_honoured(interview_audio, count, expected):
    turns = embedded_diarizer.diarize_audio(interview_audio, count)
    assert len({turn.speaker for turn in turns}) in expected


def test_silence_has_no_turns():
    assert embedded_diarizer.diarize_audio(np.zeros(16000 * 5, dtype=np.float32)) == []


def test_cli_num_speakers_reaches_the_diarizer(media_dir, tmp_path):
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "pipeline", "run", str(media_dir / "short.mp4"), "--out", str(out),
                    "--models-dir", str(MODELS_DIR), "--diarization", "embedded", "--num-speakers", "1"],
                   cwd=REPO, check=True, capture_output=True, timeout=600)
    result = json.loads((out / "result.json").read_text())
    assert {turn["speaker"] for turn in result["turns"]} == {"SPEAKER_00"}
    assert result["diarization_backend"] == "embedded"


def test_mel_frames_match_resemblyzers_own_features():
    """We compute the encoder's input with torchaudio to skip librosa's numba compile (~12 s on first use)."""
    from resemblyzer.audio import wav_to_mel_spectrogram
    audio = (0.1 * np.random.default_rng(0).standard_normal(16000 * 3)).astype(np.float32)
    reference = wav_to_mel_spectrogram(audio)
    ours = embedded_diarizer.mel_frames(audio)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= 1e-4 * np.abs(reference).max()
