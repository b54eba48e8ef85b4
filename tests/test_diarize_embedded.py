"""The offline diarizer on generated dialogue: right speakers, honoured speaker-count options."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torchaudio.compliance.kaldi as kaldi

from pipeline import campplus, diarize, embedded_diarizer, utterances
from pipeline.embedded_diarizer import SpeakerCount
from pipeline.utterances import Utterances
from tests.conftest import MODELS_DIR, run_cli
from tests.media import INTERVIEW, dialogue


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
    speakers = embedded_diarizer.diarize_audio(interview_audio)
    turns = speakers.turns
    assert {turn.speaker for turn in turns} == {"SPEAKER_00", "SPEAKER_01"}
    assert set(speakers.voiceprints) == {"SPEAKER_00", "SPEAKER_01"}
    assert all(abs(np.linalg.norm(v) - 1) < 1e-3 and len(v) == 192 for v in speakers.voiceprints.values())
    assert speaker_agreement(turns, interview) >= 0.9
    assert all(0 <= turn.start < turn.end <= interview.duration + 0.01 for turn in turns)


@pytest.mark.parametrize("count, expected", [
    (SpeakerCount(exact=1), {1}),
    (SpeakerCount(exact=3), {3}),
    (SpeakerCount(maximum=1), {1}),
    (SpeakerCount(minimum=3), {3, 4, 5, 6, 7, 8}),
])
def test_speaker_count_options_are_honoured(interview_audio, count, expected):
    turns = embedded_diarizer.diarize_audio(interview_audio, count).turns
    assert len({turn.speaker for turn in turns}) in expected


def test_silence_has_no_turns():
    assert embedded_diarizer.diarize_audio(np.zeros(16000 * 5, dtype=np.float32)).turns == []


def test_a_brief_third_speaker_is_found(tmp_path):
    """A guest who says one sentence (6 s) among two hosts' long turns: no eigengap shows them."""
    lines = [("A", INTERVIEW[0][1]), ("B", INTERVIEW[1][1]), ("A", INTERVIEW[2][1]), ("B", INTERVIEW[3][1]),
             ("E", "Da stimme ich völlig zu, Tomaten auf dem Balkon sind auch meine Lieblinge, und Kräuter wachsen dort wunderbar."), ("A", INTERVIEW[4][1]), ("B", INTERVIEW[5][1]),
             ("A", INTERVIEW[6][1])]
    recording = dialogue(lines, tmp_path / "three.wav")
    turns = embedded_diarizer.diarize_audio(diarize.read_wav(str(recording.wav))).turns
    assert len({turn.speaker for turn in turns}) == 3
    assert speaker_agreement(turns, recording) >= 0.9


def test_utterances_that_fit_no_cluster_become_a_speaker_the_windows_could_not_hear():
    """Windows of a guest that sound like host B (as on a telephone line), while the guest's whole
    utterances fit neither host: the guest's windows get a speaker of their own."""
    rng = np.random.default_rng(3)
    a, b, guest = (v / np.linalg.norm(v) for v in rng.standard_normal((3, 192)))
    near = lambda centre, n: (lambda x: x / np.linalg.norm(x, axis=1, keepdims=True))(centre + 0.03 * rng.standard_normal((n, 192)))
    windows = [(i * 100, i * 100 + 150) for i in range(60)]  # every 1.0 s; the guest speaks from 50 to 54 s
    embeddings = np.concatenate([near(a, 25), near(b, 25), near(b, 4), near(b, 6)])
    spans = [(2.0 * i, 2.0 * i + 2.0) for i in range(30)]
    voices = Utterances(spans, np.concatenate([near(a, 13), near(b, 12), near(guest, 2), near(b, 3)]))
    without = embedded_diarizer.cluster(embeddings, SpeakerCount(), None, windows)
    labels = embedded_diarizer.cluster(embeddings, SpeakerCount(), voices, windows)
    assert len(set(without.tolist())) == 2
    assert len(set(labels.tolist())) == 3
    assert set(labels[50:54].tolist()).isdisjoint(labels[:50].tolist() + labels[54:].tolist())


def test_a_short_answer_gets_the_speaker_its_own_voiceprint_names():
    """A 0.6 s "yes" from B inside A's speech: the 1.5 s windows around it hear A, its own voiceprint B."""
    rng = np.random.default_rng(5)
    a, b = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 192)))
    near = lambda centre, n: (lambda x: x / np.linalg.norm(x, axis=1, keepdims=True))(centre + 0.03 * rng.standard_normal((n, 192)))
    windows = [(i * 100, i * 100 + 150) for i in range(60)]  # A speaks for 30 s, then B
    none = Utterances([], np.zeros((0, 192), np.float32))
    evidence = embedded_diarizer.Evidence(61.5, [(0.0, 61.5)], windows, np.concatenate([near(a, 30), near(b, 30)]),
                                          [(0.0, 61.5)], none, none)
    answer = Utterances([(12.2, 12.8)], near(b, 1))
    spoke_at = lambda turns: {turn.speaker for turn in turns if turn.start <= 12.5 < turn.end}
    without = embedded_diarizer.label(evidence, SpeakerCount()).turns
    turns = embedded_diarizer.label(replace(evidence, short_utterances=answer), SpeakerCount()).turns
    assert spoke_at(without) == {"SPEAKER_00"}
    assert spoke_at(turns) == {"SPEAKER_01"}
    assert [turn.speaker for turn in turns].count("SPEAKER_01") == 2


def test_a_speaker_change_moves_to_the_pause_before_the_new_voice():
    """A speaks for 30 s, then B. The windows place the change a little after 30 s; a pause between
    phrases within SNAP_REACH takes it, and one further away does not."""
    rng = np.random.default_rng(6)
    a, b = (v / np.linalg.norm(v) for v in rng.standard_normal((2, 192)))
    near = lambda centre, n: (lambda x: x / np.linalg.norm(x, axis=1, keepdims=True))(centre + 0.03 * rng.standard_normal((n, 192)))
    windows = [(i * 100, i * 100 + 150) for i in range(60)]
    none = Utterances([], np.zeros((0, 192), np.float32))
    evidence = embedded_diarizer.Evidence(61.5, [(0.0, 61.5)], windows, np.concatenate([near(a, 30), near(b, 30)]),
                                          [(0.0, 61.5)], none, none)
    change = lambda phrases: [turn.end for turn in embedded_diarizer.label(replace(evidence, phrases=phrases),
                                                                           SpeakerCount()).turns][:-1]
    unsnapped = change([(0.0, 61.5)])
    assert len(unsnapped) == 1 and 30.3 <= unsnapped[0] <= 30.6
    assert change([(0.0, 29.9), (30.1, 61.5)]) == [29.9]
    assert change([(0.0, 28.6), (28.8, 61.5)]) == unsnapped


def test_short_spans_are_those_too_short_for_a_whole_utterance_voiceprint():
    regions = [(0.0, 0.4), (1.0, 1.5), (2.0, 2.9), (4.0, 5.0), (6.0, 9.0)]
    assert utterances.short_spans_in(regions) == [(1.0, 1.5), (2.0, 2.9)]
    assert utterances.spans_in(regions) == [(4.0, 5.0), (6.0, 9.0)]


def test_speech_the_transcript_heard_gets_a_turn(interview_audio):
    """A stretch the VAD calls silence but Whisper transcribed is still given to a speaker."""
    quiet = interview_audio.copy()
    quiet[16000 * 3:16000 * 6] *= 0.002  # too quiet for the VAD
    without = embedded_diarizer.diarize_audio(quiet).turns
    words = [(3.5, 3.9), (4.0, 4.6), (4.7, 5.5)]
    heard = embedded_diarizer.diarize_audio(quiet, heard=words).turns
    covered = lambda turns: sum(max(0.0, min(t.end, 5.5) - max(t.start, 3.5)) for t in turns)
    assert covered(without) < 0.5
    assert covered(heard) >= 1.9


def test_cli_num_speakers_reaches_the_diarizer(media_dir, tmp_path):
    out = tmp_path / "out"
    done = run_cli("run", str(media_dir / "short.mp4"), "--out", str(out), "--models-dir", str(MODELS_DIR),
                   "--diarization", "embedded", "--num-speakers", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "result.json").read_text())
    assert {turn["speaker"] for turn in result["turns"]} == {"SPEAKER_00"}
    assert result["diarization_backend"] == "embedded"


def test_features_computed_in_blocks_equal_the_whole_at_once():
    """Blocks keep an hour's features from needing gigabytes of spectra; they must change nothing."""
    waveform = torch.from_numpy((0.1 * np.random.default_rng(1).standard_normal(16000 * 7 + 123)).astype(np.float32))
    whole = kaldi.fbank(waveform.reshape(1, -1), num_mel_bins=80, sample_frequency=16000, dither=0.0)
    for block_frames in (1, 77, 300, len(whole), 10 * len(whole)):
        blocks = campplus.fbank(waveform, block_frames)
        assert blocks.shape == whole.shape
        assert torch.allclose(blocks, whole, atol=1e-4)
    assert campplus.fbank(torch.zeros(100)).shape == (0, 80)


def test_speech_found_in_blocks_is_the_speech_found_at_once(interview_audio, monkeypatch):
    """Blocks keep an hour's VAD from needing hundreds of megabytes at once. Silero starts each block
    afresh, so a few frames differ, but speech running across a block's end stays one stretch."""
    def frames(regions):
        speech = np.zeros(len(interview_audio) // 160, dtype=bool)
        for start, end in regions:
            speech[int(start * 100):int(end * 100)] = True
        return speech

    whole = embedded_diarizer.speech_regions(interview_audio)
    monkeypatch.setattr(embedded_diarizer, "VAD_BLOCK_SECONDS", 10.0)
    blocks = embedded_diarizer.speech_regions(interview_audio)
    edges = np.arange(10.0, len(interview_audio) / 16000, 10.0)
    inside = [edge for edge in edges if any(start + 0.5 < edge < end - 0.5 for start, end in whole)]
    assert inside and all(any(start < edge < end for start, end in blocks) for edge in inside)
    assert np.mean(frames(blocks) == frames(whole)) >= 0.9  # two block ends in 29 s; an hour has five
