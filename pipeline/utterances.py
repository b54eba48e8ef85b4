"""Whole-utterance voiceprints: a second opinion on the window clusters.

A 1.5 s window hears too little of a voice: on a telephone line, a brief man's windows sit
0.71-0.79 from the other man's centroid, as close as that man's own windows. Over whole
utterances (speech cut at pauses of 0.15 s or more, 1-6 s long) CAM++ tells them apart far
better: 0.57 on average (docs/diarization.md). The diarizer asks these voiceprints for speakers
that no cluster fits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage

from . import campplus

# Silero VAD options that cut speech at short pauses (embedded_diarizer.speech_regions runs it). A
# pause is where the speech probability stays under neg_threshold for 150 ms: under faster-whisper's
# default (threshold - 0.15 = 0.1), noise and telephone lines hid pauses between speakers. Mean words
# to the right speaker on the real dev split: 99.23 % at 0.1, 99.33-99.35 % at 0.15-0.23 (synthetic
# 99.13 and 99.15 %; DER and counts unchanged).
VAD_OPTIONS = dict(threshold=0.25, neg_threshold=0.2, min_silence_duration_ms=150, speech_pad_ms=30,
                   min_speech_duration_ms=200)
MIN_SECONDS, MAX_SECONDS = 1.0, 6.0
SHORT_SECONDS = campplus.MIN_FRAMES / 100  # 0.5 s: the shortest speech that gets a voiceprint
# Utterances are cropped (around their middle) to lengths on this geometric grid, so that a
# handful of lengths share batches: CAM++ costs far less per second in batches than one at a time.
LENGTH_RATIO = 1.15
# A speaker no cluster fits: utterances under MISFIT to their own cluster's other utterances and to
# every other cluster, that agree with each other (average linkage, COHERENCE) and last BRIEF_SECONDS.
MISFIT = 0.62
COHERENCE = 0.65
BRIEF_SECONDS = 2.0
MIN_UTTERANCES = 3  # a cluster needs this many utterances before one of them can be called a misfit


@dataclass
class Utterances:
    """Utterance spans in seconds and one unit CAM++ embedding each."""
    spans: list[tuple[float, float]]
    embeddings: np.ndarray


def spans_in(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Regions split into equal parts of at most MAX_SECONDS; parts under MIN_SECONDS are dropped."""
    spans = []
    for start, end in regions:
        parts = max(1, int(np.ceil((end - start) / MAX_SECONDS)))
        for i in range(parts):
            lo, hi = start + (end - start) * i / parts, start + (end - start) * (i + 1) / parts
            if hi - lo >= MIN_SECONDS:
                spans.append((lo, hi))
    return spans


def short_spans_in(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Regions of SHORT_SECONDS to MIN_SECONDS: answers and back-channels between pauses.

    Too short for the misfit test, they tell the re-segmentation who said them
    (embedded_diarizer._frame_labels): on the real dev split, 49 words went to the wrong
    speaker instead of 61.
    """
    return [(start, end) for start, end in regions if SHORT_SECONDS <= end - start < MIN_SECONDS]


def _grid_length(frames: int) -> int:
    """The longest length on the LENGTH_RATIO grid (from MIN_SECONDS) that fits in `frames`."""
    length = int(MIN_SECONDS * 100)
    while round(length * LENGTH_RATIO) <= frames:
        length = round(length * LENGTH_RATIO)
    return min(length, frames)


def embed(features: torch.Tensor, spans: list[tuple[float, float]]) -> Utterances:
    """CAM++ embeddings of the spans, from (frames, 80) features; spans the audio cuts short are dropped."""
    blocks = []
    for start, end in spans:
        lo, hi = int(start * 100), min(int(end * 100), len(features))
        length = _grid_length(hi - lo)
        lo += (hi - lo - length) // 2
        blocks.append(features[lo:lo + length])
    embeddings = campplus.embed_features(blocks) if blocks else np.zeros((0, campplus.DIMENSION), np.float32)
    usable = ~np.isnan(embeddings).any(axis=1)
    return Utterances([span for span, ok in zip(spans, usable) if ok], embeddings[usable])


def join(a: Utterances, b: Utterances) -> Utterances:
    return Utterances(a.spans + b.spans, np.concatenate([a.embeddings, b.embeddings]))


def owners(utterances: Utterances, windows: list[tuple[int, int]], labels: np.ndarray) -> np.ndarray:
    """The cluster of each utterance: the label of most window time inside it (-1 if none)."""
    if not utterances.spans or not len(labels):
        return np.full(len(utterances.spans), -1)
    window_start = np.array([lo for lo, _ in windows]) / 100
    window_end = np.array([hi for _, hi in windows]) / 100
    votes = np.zeros((len(utterances.spans), labels.max() + 1))
    for i, (start, end) in enumerate(utterances.spans):
        overlap = np.clip(np.minimum(end, window_end) - np.maximum(start, window_start), 0, None)
        np.add.at(votes[i], labels, overlap)
    return np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)


def _centroid(embeddings: np.ndarray) -> np.ndarray:
    mean = embeddings.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-9)


def misfit_groups(utterances: Utterances, owner: np.ndarray) -> list[np.ndarray]:
    """Groups of utterance indices that sound like none of the clusters and like each other."""
    embeddings = utterances.embeddings
    clusters = [c for c in np.unique(owner) if c >= 0]
    centroids = {c: _centroid(embeddings[owner == c]) for c in clusters}
    misfits = []
    for i, own in enumerate(owner):
        if own < 0 or (owner == own).sum() < MIN_UTTERANCES:
            continue
        rest = owner == own
        rest[i] = False
        fits = [embeddings[i] @ _centroid(embeddings[rest])] + [embeddings[i] @ centroids[c] for c in clusters if c != own]
        if max(fits) < MISFIT:
            misfits.append(i)
    if not misfits:
        return []
    misfits = np.array(misfits)
    groups = (fcluster(linkage(embeddings[misfits], method="average", metric="cosine"), 1 - COHERENCE, criterion="distance")
              if len(misfits) > 1 else np.ones(1, dtype=int))
    seconds = np.array([end - start for start, end in utterances.spans])
    return [misfits[groups == g] for g in np.unique(groups) if seconds[misfits[groups == g]].sum() >= BRIEF_SECONDS]
