"""Clip candidates: sentence-bounded windows of segments, ranked by an explainable score."""
from __future__ import annotations

from .combine import ends_sentence
from .types import Candidate, Segment

MAX_CANDIDATES = 10
MAX_OVERLAP = 0.25  # share of the shorter clip two proposals may have in common

# Points per feature; the sum is the score (at most 100).
QA_POINTS = 30  # a question answered by another speaker: a self-contained moment
EXCHANGE_POINTS = 6  # per speaker change, up to four
HOOK_POINTS = 10  # opens with a question
SENTIMENT_POINTS = 20  # scaled by mean |VADER compound|
DENSITY_POINTS = 16  # scaled by words per second, full at 3 words/s


def _score(window: list[Segment]) -> tuple[float, list[str]]:
    reasons, score = [], 0.0
    answered = any(a.kind == "question" and b.kind == "answer" and a.speaker != b.speaker
                   for a, b in zip(window, window[1:]))
    if answered:
        score += QA_POINTS
        reasons.append("a question answered by another speaker")
    changes = sum(a.speaker != b.speaker for a, b in zip(window, window[1:]))
    if changes:
        score += EXCHANGE_POINTS * min(changes, 4)
        reasons.append(f"{changes} speaker exchange{'s' if changes > 1 else ''}")
    if window[0].kind == "question":
        score += HOOK_POINTS
        reasons.append("opens with a question")
    intensity = sum(abs(s.sentiment) for s in window) / len(window)
    score += SENTIMENT_POINTS * intensity
    if intensity >= 0.3:
        reasons.append(f"strong sentiment ({intensity:.2f})")
    duration = window[-1].end - window[0].start
    words_per_second = sum(s.word_count for s in window) / duration
    score += DENSITY_POINTS * min(words_per_second / 3.0, 1.0)
    if words_per_second >= 2.2:
        reasons.append(f"dense speech ({words_per_second:.1f} words/s)")
    return round(score, 1), reasons or ["steady speech"]


def _overlap_share(a: Candidate, b: Candidate) -> float:
    shared = min(a.end, b.end) - max(a.start, b.start)
    return max(shared, 0.0) / min(a.end - a.start, b.end - b.start)


def propose(segments: list[Segment], min_seconds: float = 15.0, max_seconds: float = 60.0,
            limit: int = MAX_CANDIDATES) -> list[Candidate]:
    """Best non-overlapping windows between min and max seconds, starting and ending on sentences."""
    starts = [i for i, _ in enumerate(segments) if i == 0 or ends_sentence(segments[i - 1].text)]
    scored: list[Candidate] = []
    for first in starts:
        for last in range(first, len(segments)):
            duration = segments[last].end - segments[first].start
            if duration > max_seconds:
                break
            if duration < min_seconds or not ends_sentence(segments[last].text):
                continue
            window = segments[first:last + 1]
            score, reasons = _score(window)
            scored.append(Candidate(start=window[0].start, end=window[-1].end, score=score, reasons=reasons,
                                    first_segment=first, last_segment=last,
                                    text=" ".join(s.text for s in window)))
    chosen: list[Candidate] = []
    for candidate in sorted(scored, key=lambda c: (-c.score, c.start)):
        if all(_overlap_share(candidate, other) <= MAX_OVERLAP for other in chosen):
            chosen.append(candidate)
            if len(chosen) == limit:
                break
    return chosen
