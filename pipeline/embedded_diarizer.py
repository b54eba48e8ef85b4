"""The offline diarizer: Silero VAD, Resemblyzer embeddings, clustering, smoothing.

Everything it needs ships inside pip packages (Silero with faster-whisper, the
voice encoder with resemblyzer), so it runs with no token and no network.
Design:
- speech regions from Silero VAD bound every turn: silence is never a speaker;
- 1.6 s windows (the encoder's training length) every STEP seconds over the
  speech, embedded in one batch;
- average-linkage agglomerative clustering on cosine distance; the speaker
  count is the k with the best silhouette, or 1 when no split is convincing;
- clusters with too little speech are folded into the nearest real speaker;
- each 0.1 s frame takes the label of the windows covering it (majority), and
  turns shorter than MIN_TURN are absorbed by their neighbours.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .types import SpeakerTurn

SAMPLE_RATE = 16000
WINDOW = 1.6  # seconds, resemblyzer's partial utterance length
STEP = 0.25
FRAME = 0.1
MIN_TURN = 0.5
SILHOUETTE_SPLIT = 0.12  # below this, one speaker explains the audio best
MIN_SPEAKER_SHARE = 0.04


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
    import torch
    encoder = _encoder()
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            chunk = np.stack([mels[a:b] for a, b in windows[i:i + batch]])
            out.append(encoder(torch.from_numpy(chunk)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 256), dtype=np.float32)


def cluster(embeddings: np.ndarray, count: SpeakerCount) -> np.ndarray:
    """Cluster labels, choosing the speaker count by silhouette unless it is given."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    n = len(embeddings)
    if n < 2 or count.exact == 1:
        return np.zeros(n, dtype=int)

    def fit(k: int) -> np.ndarray:
        return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(embeddings)

    if count.exact:
        return fit(min(count.exact, n))
    best_k, best_labels, best_score = 1, np.zeros(n, dtype=int), SILHOUETTE_SPLIT
    for k in range(max(2, count.minimum), min(count.maximum, n - 1) + 1):
        labels = fit(k)
        score = silhouette_score(embeddings, labels, metric="cosine")
        if score > best_score:
            best_k, best_labels, best_score = k, labels, score
    if best_k == 1 and count.minimum > 1:
        return fit(min(count.minimum, n))
    return best_labels


def _fold_small_clusters(embeddings: np.ndarray, labels: np.ndarray, keep_at_least: int) -> np.ndarray:
    """Give windows of clusters holding too little speech to the nearest remaining speaker."""
    while True:
        ids, sizes = np.unique(labels, return_counts=True)
        if len(ids) <= max(keep_at_least, 1):
            return labels
        smallest = ids[np.argmin(sizes)]
        if sizes.min() >= MIN_SPEAKER_SHARE * len(labels):
            return labels
        others = [i for i in ids if i != smallest]
        centroids = np.stack([embeddings[labels == i].mean(axis=0) for i in others])
        moved = np.argmax(embeddings[labels == smallest] @ centroids.T, axis=1)
        labels = labels.copy()
        labels[labels == smallest] = np.array(others)[moved]


def _frame_labels(windows, labels, regions, n_speakers, total_seconds) -> np.ndarray:
    """Each 0.1 s frame votes over the windows covering it; -1 outside speech."""
    n_frames = int(np.ceil(total_seconds / FRAME)) + 1
    votes = np.zeros((n_frames, max(n_speakers, 1)))
    for (lo, hi), label in zip(windows, labels):
        votes[int(lo / 100 / FRAME):int(np.ceil(hi / 100 / FRAME)), label] += 1
    frame_labels = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)
    in_speech = np.zeros(n_frames, dtype=bool)
    for start, end in regions:
        in_speech[int(start / FRAME):int(np.ceil(end / FRAME))] = True
    frame_labels[~in_speech] = -1
    return frame_labels


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
    min_frames = int(MIN_TURN / FRAME)
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
    embeddings = embed_windows(mels, windows)
    labels = cluster(embeddings, count)
    labels = _fold_small_clusters(embeddings, labels, count.exact or count.minimum)
    # Renumber by first appearance so SPEAKER_00 is whoever speaks first.
    order = {old: new for new, old in enumerate(dict.fromkeys(labels.tolist()))}
    labels = np.array([order[label] for label in labels])
    frame_labels = _frame_labels(windows, labels, regions, len(order), total_seconds)
    turns = _absorb_short_turns(_turns_from_frames(frame_labels))
    return [SpeakerTurn(start=round(a * FRAME, 2), end=round(min(b * FRAME, total_seconds), 2),
                        speaker=f"SPEAKER_{label:02d}") for a, b, label in turns]


def warm_up() -> None:
    """Load the encoder and run every step once, so the first real job pays no start-up cost."""
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(SAMPLE_RATE * 2)).astype(np.float32)
    embed_windows(mel_frames(audio), [(0, int(WINDOW * 100))])
    speech_regions(audio)
