"""Whole-utterance voiceprints: spans, cropping for batches, cluster ownership and misfits."""
from __future__ import annotations

import numpy as np
import torch

from pipeline import campplus, utterances
from pipeline.utterances import Utterances


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_long_speech_is_cut_into_equal_parts_and_short_bits_are_dropped():
    spans = utterances.spans_in([(0.0, 0.8), (2.0, 15.5), (20.0, 21.2)])
    assert spans[-1] == (20.0, 21.2)
    middle = spans[:-1]
    assert len(middle) == 3 and middle[0][0] == 2.0 and middle[-1][1] == 15.5
    assert all(abs((end - start) - 4.5) < 1e-9 for start, end in middle)


def test_utterances_are_cropped_to_a_few_shared_lengths():
    lengths = {utterances._grid_length(frames) for frames in range(100, 601)}
    assert len(lengths) <= 14
    for frames in range(100, 601):
        cropped = utterances._grid_length(frames)
        assert frames / utterances.LENGTH_RATIO <= cropped <= frames


def test_embeddings_of_one_voice_agree_and_spans_cut_short_are_dropped():
    rng = np.random.default_rng(1)
    tone = np.sin(2 * np.pi * 180 * np.arange(16000 * 6) / 16000) * (1 + 0.3 * rng.standard_normal(16000 * 6))
    audio = (0.1 * tone / np.abs(tone).max()).astype(np.float32)
    features = campplus.fbank(torch.from_numpy(audio))
    voices = utterances.embed(features, [(0.0, 2.3), (2.5, 5.9), (5.8, 7.5)])
    assert voices.spans == [(0.0, 2.3), (2.5, 5.9)]  # the third runs past the end of the audio
    assert np.allclose(np.linalg.norm(voices.embeddings, axis=1), 1, atol=1e-5)
    assert float(voices.embeddings[0] @ voices.embeddings[1]) > 0.8


def test_an_utterance_belongs_to_the_cluster_with_most_window_time_in_it():
    voices = Utterances([(0.0, 2.0), (3.0, 5.0), (9.0, 10.0)], np.zeros((3, 4)))
    windows = [(0, 150), (75, 225), (300, 450), (375, 525)]
    labels = np.array([0, 1, 1, 1])
    assert utterances.owners(voices, windows, labels).tolist() == [0, 1, -1]


def test_a_coherent_group_fitting_no_cluster_is_a_misfit_group():
    rng = np.random.default_rng(0)
    a, b, guest = unit(rng.standard_normal((3, 192)))
    noisy = lambda centre, n: unit(centre + 0.03 * rng.standard_normal((n, 192)))  # about 0.85 alike
    embeddings = np.concatenate([noisy(a, 6), noisy(b, 6), noisy(guest, 2)])
    spans = [(i * 2.0, i * 2.0 + 1.5) for i in range(14)]
    owner = np.array([0] * 6 + [1] * 6 + [1, 1])  # the guest's two utterances were taken for b
    groups = utterances.misfit_groups(Utterances(spans, embeddings), owner)
    assert [group.tolist() for group in groups] == [[12, 13]]
    # Too little speech: one 1.5 s utterance is not a speaker (BRIEF_SECONDS).
    assert utterances.misfit_groups(Utterances(spans[:13], embeddings[:13]), owner[:13]) == []
