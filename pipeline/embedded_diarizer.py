"""The offline diarizer: Silero VAD, Resemblyzer embeddings, spectral clustering, re-segmentation.

Everything it needs ships inside pip packages (Silero with faster-whisper, the
voice encoder with resemblyzer), so it runs with no token and no network.
Tuned on the dev split of bench/dialogues.py only; docs/BENCHMARKS.md has the
held-back figures (`python -m bench.quality --split all`).

1. Speech regions from Silero VAD bound every turn: silence is never a speaker.
   (100 ms padding, 250 ms minimum silence: tighter settings cut word edges and
   cost more missed speech than they save in false alarm.)
2. 1.6 s windows (the encoder's training length) every STEP seconds inside each
   region, embedded in batches. A region shorter than a window gets one window
   centred on it; the audio around it is part of that window but not of its turn.
3. Speaker count and clusters by spectral clustering with the normalised maximum
   eigengap (NME-SC, Park et al. 2019): the cosine affinity keeps, per row, its
   p strongest links; p is the one whose Laplacian shows the clearest eigengap
   relative to p, and the count is where that gap is. It needs no per-recording
   threshold and, unlike the silhouette rule it replaced (which found 2 of 3 or
   4 speakers whenever one voice lay between two others), counted every dev
   recording right. At most MAX_POINTS evenly spaced windows enter the O(n^3)
   eigen-solves; every window then joins the nearest centroid, and two k-means
   passes on the unit sphere refine the centroids on all windows.
4. Guards against spurious speakers, skipped when the caller fixes the count
   (on short or single-voice audio the eigengap happily splits one voice):
   clusters whose centroids are closer than MERGE_SIMILARITY are one voice (a
   voice split in two lands above 0.9, distinct voices below 0.85), and a
   cluster with less than MIN_SPEAKER_SECONDS / MIN_SPEAKER_SHARE of the
   windows is folded into its nearest neighbour. Fewer than 8 windows: one
   speaker. SpeakerCount's exact / minimum / maximum are always honoured.
5. Re-segmentation: each FRAME (50 ms) takes, over the windows covering it, the
   mean cosine similarity to each speaker centroid; a Viterbi pass with a small
   switch penalty picks the frame labels inside each speech region, so a change
   of speaker lands where the evidence flips. Turns shorter than MIN_TURN
   between two turns of one speaker are absorbed. Overlapped speech gets one
   speaker (the one its windows resemble most); it is a small share of talk.
Cost: one encoder pass over ~4 windows per second of speech dominates; about
0.008 x real time on 2 CPU cores, clustering included.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .types import SpeakerTurn

SAMPLE_RATE = 16000
WINDOW = 1.6  # seconds, resemblyzer's partial utterance length
STEP = 0.25
FRAME = 0.05
MIN_TURN = 0.3
MAX_POINTS = 400  # windows entering the spectral eigen-solve
MAX_SPEAKERS_SEARCHED = 10
MERGE_SIMILARITY = 0.88
MIN_SPEAKER_SHARE = 0.03
MIN_SPEAKER_SECONDS = 3.0  # a speaker needs about this much speech (in windows: seconds / STEP)
SWITCH_PENALTY = 0.3  # in summed cosine units, per change of speaker between frames


@dataclass
class SpeakerCount:
    exact: int | None = None
    minimum: int = 1
    maximum: int = 8


@functools.lru_cache(maxsize=1)
def _encoder():
    import torch
    from resemblyzer import VoiceEncoder
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    return VoiceEncoder(device="cpu", verbose=False)


@functools.lru_cache(maxsize=1)
def _mel_transform():
    """torchaudio mel filterbank matching resemblyzer's librosa settings (no numba start-up cost)."""
    import torchaudio
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=400, hop_length=160, n_mels=40,
        power=2.0, center=True, pad_mode="constant", norm="slaney", mel_scale="slaney",
    )


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """(n_frames, 40) mel power frames at 100 frames per second."""
    import torch
    with torch.inference_mode():
        mel = _mel_transform()(torch.from_numpy(audio.astype(np.float32)))
    return mel.T.numpy()


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """Speech stretches in seconds from Silero VAD (bundled with faster-whisper)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps
    options = VadOptions(min_silence_duration_ms=250, speech_pad_ms=100, min_speech_duration_ms=200)
    stamps = get_speech_timestamps(audio, options)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def _normalize_volume(audio: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """The encoder reads raw mel power, so level speech as resemblyzer's preprocessing does."""
    rms = np.sqrt(np.mean(audio ** 2)) if audio.size else 0.0
    if rms < 1e-6:
        return audio
    return audio * (10 ** (target_dbfs / 20) / rms)


def _windows(regions: list[tuple[float, float]], total_frames: int) -> list[tuple[int, int]]:
    """Window starts/ends in mel frames covering each region; short regions get one window."""
    frames_per_window, frames_per_step = int(WINDOW * 100), int(STEP * 100)
    windows = []
    for start, end in regions:
        first, last = int(start * 100), min(int(end * 100), total_frames)
        if last - first <= frames_per_window:
            centre = (first + last) // 2
            lo = max(0, min(centre - frames_per_window // 2, total_frames - frames_per_window))
            windows.append((lo, lo + frames_per_window))
            continue
        for lo in range(first, last - frames_per_window + 1, frames_per_step):
            windows.append((lo, lo + frames_per_window))
        if windows[-1][1] < last:
            windows.append((last - frames_per_window, last))
    return windows


def embed_windows(mels: np.ndarray, windows: list[tuple[int, int]], batch: int = 256) -> np.ndarray:
    """Unit-length embeddings, one per window."""
    import torch
    encoder = _encoder()
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            chunk = np.stack([mels[a:b] for a, b in windows[i:i + batch]])
            out.append(encoder(torch.from_numpy(chunk)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 256), dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _laplacian(affinity: np.ndarray, p: int) -> np.ndarray:
    """Unnormalised Laplacian of the graph keeping each row's p strongest links (binarised, symmetrised)."""
    pruned = np.zeros_like(affinity)
    np.put_along_axis(pruned, np.argsort(-affinity, axis=1)[:, :p], 1.0, axis=1)
    pruned = (pruned + pruned.T) / 2
    return np.diag(pruned.sum(axis=1)) - pruned


def spectral_labels(points: np.ndarray, count: SpeakerCount) -> np.ndarray:
    """NME-SC on unit embeddings: labels 0..k-1, k from the largest normalised eigengap unless fixed."""
    from sklearn.cluster import KMeans
    n = len(points)
    k_high = min(count.maximum, MAX_SPEAKERS_SEARCHED, n - 1)
    affinity = points @ points.T
    best = None
    for p in np.unique(np.linspace(max(2, n // 50), max(3, n // 5), 12).astype(int)):
        laplacian = _laplacian(affinity, int(p))
        eigenvalues = np.linalg.eigvalsh(laplacian)
        gaps = np.diff(eigenvalues[:k_high + 1])
        gaps[:max(count.minimum, 1) - 1] = -np.inf  # k below the minimum is not allowed
        k = min(count.exact, n - 1) if count.exact else max(int(np.argmax(gaps)) + 1, min(count.minimum, k_high))
        ratio = p / (gaps[k - 1] / max(eigenvalues[-1], 1e-9) + 1e-9) if np.isfinite(gaps[k - 1]) else np.inf
        if best is None or ratio < best[0]:
            best = (ratio, k, laplacian)
    _, k, laplacian = best
    if k <= 1:
        return np.zeros(n, dtype=int)
    _, vectors = np.linalg.eigh(laplacian)
    return KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(vectors[:, :k])


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _unit(np.stack([embeddings[labels == i].mean(axis=0) for i in range(labels.max() + 1)]))


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels 0..k-1 with no gaps."""
    return np.unique(labels, return_inverse=True)[1]


def _merge_and_fold(embeddings: np.ndarray, labels: np.ndarray, count: SpeakerCount) -> np.ndarray:
    """Merge near-identical voices, then fold clusters with too little speech into their nearest neighbour."""
    keep_at_least = max(count.minimum, 1)
    while labels.max() + 1 > keep_at_least:
        centroids = _centroids(embeddings, labels)
        similarity = centroids @ centroids.T
        np.fill_diagonal(similarity, -1)
        sizes = np.bincount(labels)
        a, b = np.unravel_index(np.argmax(similarity), similarity.shape)
        if similarity[a, b] > MERGE_SIMILARITY:
            small, big = (a, b) if sizes[a] < sizes[b] else (b, a)
        elif sizes.min() < max(MIN_SPEAKER_SHARE * len(labels), MIN_SPEAKER_SECONDS / STEP):
            small = int(np.argmin(sizes))
            big = int(np.argmax(similarity[small]))
        else:
            break
        labels = _relabel(np.where(labels == small, big, labels))
    return labels


def cluster(embeddings: np.ndarray, count: SpeakerCount) -> np.ndarray:
    """Speaker label per window (unit embeddings in), honouring the requested count."""
    n = len(embeddings)
    if n < 2 or count.exact == 1 or count.maximum == 1:
        return np.zeros(n, dtype=int)
    if n < 8:  # too few windows for a spectrum: one speaker unless told otherwise
        k = min(count.exact or count.minimum, n)
        if k <= 1:
            return np.zeros(n, dtype=int)
        from sklearn.cluster import AgglomerativeClustering
        return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(embeddings)
    sample = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(int))
    sample_labels = spectral_labels(embeddings[sample], count)
    labels = np.argmax(embeddings @ _centroids(embeddings[sample], _relabel(sample_labels)).T, axis=1)
    for _ in range(2):  # spherical k-means refinement on every window
        labels = _relabel(labels)
        labels = np.argmax(embeddings @ _centroids(embeddings, labels).T, axis=1)
    labels = _relabel(labels)
    if not count.exact:
        labels = _merge_and_fold(embeddings, labels, count)
    return labels


def _viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """Best label path through (frames, speakers) scores with a fixed cost per change."""
    n, k = scores.shape
    total = scores[0].copy()
    back = np.zeros((n, k), dtype=np.int32)
    for t in range(1, n):
        stay, jump = total, total.max() - penalty
        back[t] = np.where(stay >= jump, np.arange(k), total.argmax())
        total = np.maximum(stay, jump) + scores[t]
    path = np.empty(n, dtype=int)
    path[-1] = int(total.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _frame_labels(windows, similarities, regions, total_seconds) -> np.ndarray:
    """Speaker per FRAME from the windows covering it, Viterbi-smoothed inside each speech region; -1 elsewhere."""
    n_frames = int(np.ceil(total_seconds / FRAME)) + 1
    sums = np.zeros((n_frames, similarities.shape[1]))
    hits = np.zeros(n_frames)
    for (lo, hi), similarity in zip(windows, similarities):
        a, b = int(lo / 100 / FRAME), int(np.ceil(hi / 100 / FRAME))
        sums[a:b] += similarity
        hits[a:b] += 1
    labels = np.full(n_frames, -1)
    for start, end in regions:
        a, b = int(round(start / FRAME)), min(int(round(end / FRAME)), n_frames)
        if b <= a:
            continue
        covered = hits[a:b] > 0
        scores = np.where(covered[:, None], sums[a:b] / np.maximum(hits[a:b], 1)[:, None], 0.0)
        labels[a:b] = _viterbi(scores, SWITCH_PENALTY)
    return labels


def _turns_from_frames(frame_labels: np.ndarray) -> list[list]:
    turns = []
    for i, label in enumerate(frame_labels):
        if label < 0:
            continue
        if turns and turns[-1][2] == label and turns[-1][1] == i:
            turns[-1][1] = i + 1
        else:
            turns.append([i, i + 1, int(label)])
    return turns


def _absorb_short_turns(turns: list[list]) -> list[list]:
    """A turn shorter than MIN_TURN between two turns of one speaker becomes theirs."""
    min_frames = int(round(MIN_TURN / FRAME))
    for i in range(1, len(turns) - 1):
        before, turn, after = turns[i - 1], turns[i], turns[i + 1]
        if turn[1] - turn[0] < min_frames and before[2] == after[2] and before[1] == turn[0] and turn[1] == after[0]:
            turn[2] = before[2]
    merged: list[list] = []
    for turn in turns:
        if merged and merged[-1][2] == turn[2] and merged[-1][1] == turn[0]:
            merged[-1][1] = turn[1]
        else:
            merged.append(list(turn))
    return merged


def diarize_audio(audio: np.ndarray, count: SpeakerCount | None = None) -> list[SpeakerTurn]:
    """Speaker turns for 16 kHz mono float audio."""
    count = count or SpeakerCount()
    total_seconds = len(audio) / SAMPLE_RATE
    regions = speech_regions(audio)
    if not regions:
        return []
    mels = mel_frames(_normalize_volume(audio))
    windows = _windows(regions, len(mels))
    embeddings = _unit(embed_windows(mels, windows))
    labels = cluster(embeddings, count)
    # Number speakers by first appearance so SPEAKER_00 is whoever speaks first.
    order = {old: new for new, old in enumerate(dict.fromkeys(labels.tolist()))}
    labels = np.array([order[label] for label in labels])
    similarities = embeddings @ _centroids(embeddings, labels).T
    frame_labels = _frame_labels(windows, similarities, regions, total_seconds)
    turns = _absorb_short_turns(_turns_from_frames(frame_labels))
    return [SpeakerTurn(start=round(a * FRAME, 2), end=round(min(b * FRAME, total_seconds), 2),
                        speaker=f"SPEAKER_{label:02d}") for a, b, label in turns]


def warm_up() -> None:
    """Load the encoder and run every step once, so the first real job pays no start-up cost."""
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(SAMPLE_RATE * 2)).astype(np.float32)
    embed_windows(mel_frames(audio), [(0, int(WINDOW * 100))])
    speech_regions(audio)
    points = _unit(rng.standard_normal((12, 8)))
    cluster(points, SpeakerCount())  # imports scikit-learn and runs the eigen-solve once
