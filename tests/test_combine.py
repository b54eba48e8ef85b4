"""Words + turns -> segments: speaker assignment, splitting, kinds and sentiment."""
from __future__ import annotations

import pytest

from pipeline.combine import (FIRST_SPEAKER, LONG_PAUSE, assign_speakers, build_segments, ends_sentence,
                              sentiment)
from pipeline.types import SpeakerTurn, Word


def words_from(text: str, start: float = 0.0, step: float = 0.4, speaker: str | None = None) -> list[Word]:
    """One word every `step` seconds, each lasting 0.3 s."""
    return [Word(start=round(start + i * step, 3), end=round(start + i * step + 0.3, 3), text=token, speaker=speaker)
            for i, token in enumerate(text.split())]


# ---- assign_speakers ------------------------------------------------------------------------

def test_word_takes_the_speaker_it_overlaps_most():
    turns = [SpeakerTurn(0.0, 1.2, "A"), SpeakerTurn(1.2, 3.0, "B")]
    words = [Word(0.1, 0.5, "one"), Word(1.0, 1.6, "two"), Word(0.9, 1.3, "three"), Word(2.0, 2.5, "four")]
    assign_speakers(words, turns)
    assert [w.speaker for w in words] == ["A", "B", "A", "B"]


def test_overlap_is_summed_per_speaker():
    # 0.3 s of A in one piece loses to 0.2 + 0.2 s of B in two pieces.
    turns = [SpeakerTurn(0.0, 0.2, "B"), SpeakerTurn(0.2, 0.5, "A"), SpeakerTurn(0.5, 0.7, "B")]
    word = assign_speakers([Word(0.0, 0.7, "word")], turns)[0]
    assert word.speaker == "B"


def test_word_in_a_gap_takes_the_nearest_turn():
    turns = [SpeakerTurn(0.0, 1.0, "A"), SpeakerTurn(3.0, 4.0, "B")]
    words = [Word(1.1, 1.3, "late"), Word(2.6, 2.9, "early"), Word(5.0, 5.2, "after"), Word(-1.0, -0.5, "before")]
    assign_speakers(words, turns)
    assert [w.speaker for w in words] == ["A", "B", "B", "A"]


def test_unsorted_turns_are_fine():
    turns = [SpeakerTurn(3.0, 4.0, "B"), SpeakerTurn(0.0, 1.0, "A"), SpeakerTurn(1.0, 3.0, "C")]
    words = assign_speakers(words_from("a b c d e f g h i j", step=0.4), turns)
    assert [w.speaker for w in words] == ["A", "A", "A", "C", "C", "C", "C", "C", "B", "B"]


def test_long_turn_under_short_interjections_still_counts():
    """Overlapping turns (as pyannote gives them): A talks throughout while B says 'yes', 'right'."""
    turns = [SpeakerTurn(0.0, 100.0, "A"), SpeakerTurn(10.0, 11.0, "B"), SpeakerTurn(12.0, 13.0, "B"),
             SpeakerTurn(14.0, 15.0, "B")]
    words = assign_speakers([Word(50.0, 50.4, "middle"), Word(9.7, 10.2, "so"), Word(16.0, 16.3, "on")], turns)
    assert [w.speaker for w in words] == ["A", "A", "A"]
    # Where A has stopped and only the late interjection is left, B it is.
    turns.append(SpeakerTurn(99.0, 101.0, "B"))
    assert assign_speakers([Word(100.2, 100.5, "yes")], turns)[0].speaker == "B"
    assert assign_speakers([Word(103.0, 103.2, "hm")], turns)[0].speaker == "B"


def test_zero_length_word_inside_a_turn_takes_that_turn():
    turns = [SpeakerTurn(0.0, 10.0, "A"), SpeakerTurn(5.5, 6.0, "B")]
    word = assign_speakers([Word(4.0, 4.0, "blink")], turns)[0]
    assert word.speaker == "A"


def test_no_turns_still_gives_every_word_a_speaker():
    words = assign_speakers(words_from("nobody diarized this"), [])
    assert {w.speaker for w in words} == {FIRST_SPEAKER}


def test_assign_speakers_scales_to_long_recordings():
    import time

    # Two hours: 3000 turns of 1 s every 2.4 s, a word every 0.6 s, many of them in the pauses.
    turns = [SpeakerTurn(i * 2.4, i * 2.4 + 1.0, f"S{i % 3}") for i in range(3000)]
    words = [Word(i * 0.6, i * 0.6 + 0.3, "w") for i in range(12000)]
    started = time.perf_counter()
    assign_speakers(words, turns)
    assert time.perf_counter() - started < 1.0
    # 0.0 and 0.6 in S0; 1.2 nearest S0 (0.35 s away vs 1.05); 1.8 nearest S1 (0.45 vs 0.95); 2.4 in S1.
    assert [w.speaker for w in words[:5]] == ["S0", "S0", "S0", "S1", "S1"]


# ---- build_segments -------------------------------------------------------------------------

def test_split_at_speaker_change():
    words = words_from("hello there friend", speaker="A") + words_from("hi back", start=1.3, speaker="B")
    segments = build_segments(words)
    assert [(s.speaker, s.text) for s in segments] == [("A", "hello there friend"), ("B", "hi back")]
    assert (segments[0].start, segments[0].end, segments[0].word_count) == (0.0, 1.1, 3)
    assert (segments[1].start, segments[1].end, segments[1].word_count) == (1.3, 2.0, 2)


def test_split_at_sentence_end_within_one_speaker():
    segments = build_segments(words_from("It rained. Then it stopped! Did it? Yes \"it did.\" Fine", speaker="A"))
    assert [s.text for s in segments] == ["It rained.", "Then it stopped!", "Did it?", 'Yes "it did."', "Fine"]
    assert {s.speaker for s in segments} == {"A"}


def test_split_at_a_long_pause_but_not_a_short_one():
    first = words_from("we keep going", speaker="A")
    short = words_from("after a breath", start=first[-1].end + LONG_PAUSE - 0.1, speaker="A")
    long_ = words_from("after a long silence", start=short[-1].end + LONG_PAUSE + 0.1, speaker="A")
    segments = build_segments(first + short + long_)
    assert [s.text for s in segments] == ["we keep going after a breath", "after a long silence"]


def test_kinds_question_answer_statement():
    words = (words_from("What do you grow?", speaker="A")
             + words_from("Mostly tomatoes.", start=2.0, speaker="B")
             + words_from("They are easy.", start=3.0, speaker="B")
             + words_from("Why?", start=4.5, speaker="A")
             + words_from("And what else?", start=5.0, speaker="A")
             + words_from("Beans.", start=6.5, speaker="B"))
    segments = build_segments(words)
    assert [(s.speaker, s.kind) for s in segments] == [
        ("A", "question"), ("B", "answer"), ("B", "statement"), ("A", "question"), ("A", "question"),
        ("B", "answer")]


def test_a_question_followed_by_the_same_speaker_is_not_answered():
    segments = build_segments(words_from("Who knows? I do.", speaker="A"))
    assert [s.kind for s in segments] == ["question", "statement"]


def test_first_segment_without_question_is_a_statement():
    assert build_segments(words_from("Plain words here.", speaker="A"))[0].kind == "statement"


def test_words_without_a_speaker_get_the_first_speaker():
    assert build_segments(words_from("No label."))[0].speaker == FIRST_SPEAKER


def test_no_words_no_segments():
    assert build_segments([]) == []


def test_sentiment_sign():
    assert sentiment("I love this, it is wonderful and makes me so happy!") > 0.5
    assert sentiment("This is terrible, I hate it and it makes me sad.") < -0.5
    assert sentiment("The table is next to the door.") == 0.0
    segments = build_segments(words_from("What a great idea!", speaker="A")
                              + words_from("That is an awful mistake.", start=3.0, speaker="B"))
    assert segments[0].sentiment > 0 > segments[1].sentiment
    assert all(-1.0 <= s.sentiment <= 1.0 for s in segments)


@pytest.mark.parametrize("text, ends", [("done.", True), ("why?", True), ("wow!", True), ('said "no."', True),
                                        ("(aside.)", True), ("and", False), ("3.5", False), ("etc,", False)])
def test_ends_sentence(text, ends):
    assert ends_sentence(text) is ends
