"""Clip candidates: bounds, sentence boundaries, no overlap, ranking and reasons."""
from __future__ import annotations

import itertools

import pytest

from pipeline.candidates import MAX_OVERLAP, _overlap_share, propose
from pipeline.combine import build_segments, ends_sentence
from pipeline.types import Segment, Word


def seg(start: float, end: float, speaker: str, text: str, kind: str = "statement", sentiment: float = 0.0,
        words: int | None = None) -> Segment:
    return Segment(start=start, end=end, speaker=speaker, text=text, kind=kind, sentiment=sentiment,
                   word_count=words if words is not None else max(int((end - start) * 2.5), 1))


def flat_talk(start: float, count: int, speaker: str = "A", length: float = 4.0, gap: float = 0.5) -> list[Segment]:
    """A monologue of neutral sentences."""
    return [seg(start + i * (length + gap), start + i * (length + gap) + length, speaker,
                f"Neutral sentence number {i}.", words=6) for i in range(count)]


def exchange(start: float) -> list[Segment]:
    """Question, answer, question, answer: about 20 s."""
    return [
        seg(start, start + 3.0, "A", "Why do tomatoes crack?", "question"),
        seg(start + 3.5, start + 8.5, "B", "They crack when they get too much water at once.", "answer", 0.3),
        seg(start + 9.0, start + 11.5, "A", "Can I stop it?", "question"),
        seg(start + 12.0, start + 19.0, "B", "Yes, water little and often, and it works really well.", "answer", 0.6),
    ]


def starts_and_ends_on_sentences(candidate, segments) -> bool:
    first, last = candidate.first_segment, candidate.last_segment
    return ((first == 0 or ends_sentence(segments[first - 1].text)) and ends_sentence(segments[last].text)
            and candidate.start == segments[first].start and candidate.end == segments[last].end)


@pytest.fixture
def show() -> list[Segment]:
    """Two minutes of monologue with a question-and-answer exchange in the middle."""
    talk = flat_talk(0.0, 12)
    middle = exchange(talk[-1].end + 0.5)
    return talk + middle + flat_talk(middle[-1].end + 0.5, 12)


def test_lengths_stay_within_bounds(show):
    for low, high in [(15.0, 60.0), (10.0, 20.0), (30.0, 45.0)]:
        found = propose(show, low, high)
        assert found
        assert all(low <= c.end - c.start <= high for c in found), [(c.start, c.end) for c in found]


def test_candidates_start_and_end_on_sentence_boundaries(show):
    # Break some sentences over two segments (a long pause mid-sentence): windows must not cut there.
    show = list(show)
    for i in (3, 8, 20):
        show[i] = seg(show[i].start, show[i].end, show[i].speaker, "and then, after a pause,")
    found = propose(show, 10.0, 30.0)
    assert found
    assert all(starts_and_ends_on_sentences(c, show) for c in found)
    assert all(c.text == " ".join(s.text for s in show[c.first_segment:c.last_segment + 1]) for c in found)


def test_candidates_do_not_overlap(show):
    found = propose(show, 10.0, 40.0)
    assert len(found) >= 3
    for a, b in itertools.combinations(found, 2):
        assert _overlap_share(a, b) <= MAX_OVERLAP


def test_question_and_answer_ranks_above_flat_talk(show):
    found = propose(show, 15.0, 30.0)
    best = found[0]
    assert show[best.first_segment].kind == "question"
    assert best.first_segment == 12 and best.last_segment >= 13
    assert "a question answered by another speaker" in best.reasons
    assert "opens with a question" in best.reasons
    assert any("speaker exchange" in reason for reason in best.reasons)
    flat = [c for c in found if c.last_segment < 12 or c.first_segment > 15]
    assert flat and all(c.score < best.score for c in flat)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_every_candidate_has_reasons(show):
    for candidate in propose(show, 15.0, 60.0):
        assert candidate.reasons and all(isinstance(r, str) and r for r in candidate.reasons)
        assert 0 < candidate.score <= 100


def test_flat_talk_is_explained_as_steady_speech():
    found = propose(flat_talk(0.0, 10, length=4.0), 15.0, 30.0)
    assert found and all(c.reasons == ["steady speech"] for c in found)


def test_strong_sentiment_and_density_are_reasons():
    segments = [seg(i * 4.5, i * 4.5 + 4.0, "A", "I absolutely love this!", sentiment=0.8, words=12)
                for i in range(5)]
    found = propose(segments, 15.0, 30.0)
    assert any(r.startswith("strong sentiment") for r in found[0].reasons)
    assert any(r.startswith("dense speech") for r in found[0].reasons)


def test_limit_and_empty_inputs(show):
    assert len(propose(show, 10.0, 20.0, limit=2)) == 2
    assert propose([], 15.0, 60.0) == []
    # Nothing long enough, and nothing short enough.
    assert propose(flat_talk(0.0, 2), 15.0, 60.0) == []
    assert propose([seg(0.0, 90.0, "A", "One very long sentence.")], 15.0, 60.0) == []


def test_candidates_from_real_segments():
    """Through build_segments: the words' own punctuation decides where clips may start and end."""
    def say(text, start, speaker):
        return [Word(start + i * 0.4, start + i * 0.4 + 0.3, token, speaker=speaker)
                for i, token in enumerate(text.split())]
    words = (say("Welcome to the show about small gardens and what grows in them today.", 0.0, "A")
             + say("What is the easiest vegetable to grow on a balcony?", 6.0, "A")
             + say("Radishes are the easiest, they are ready in four weeks and need little care.", 11.0, "B")
             + say("That is wonderful news for every beginner listening to us today.", 17.0, "A"))
    segments = build_segments(words)
    found = propose(segments, 10.0, 30.0)
    assert found[0].text.startswith("What is the easiest vegetable")
    assert "a question answered by another speaker" in found[0].reasons
