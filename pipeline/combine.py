"""Words + speaker turns -> speaker-tagged segments with a type and a sentiment."""
from __future__ import annotations

import bisect
import functools
import itertools
import os
from collections import Counter

from .types import Segment, SpeakerTurn, Word

SENTENCE_END = (".", "?", "!")
LONG_PAUSE = 1.0  # seconds of silence that end a segment even mid-sentence
FIRST_SPEAKER = "SPEAKER_00"


@functools.lru_cache(maxsize=1)
def _sentiment_analyzer():
    """nltk's VADER with the lexicon the vaderSentiment package ships: no nltk.download at run time."""
    import nltk
    import vaderSentiment
    from nltk.sentiment.vader import SentimentIntensityAnalyzer

    lexicon_dir = os.path.dirname(vaderSentiment.__file__)
    if lexicon_dir not in nltk.data.path:
        nltk.data.path.append(lexicon_dir)  # nltk only opens resources under its data paths
    return SentimentIntensityAnalyzer(lexicon_file="vader_lexicon.txt")


def sentiment(text: str) -> float:
    return round(_sentiment_analyzer().polarity_scores(text)["compound"], 3)


def assign_speakers(words: list[Word], turns: list[SpeakerTurn]) -> list[Word]:
    """Give each word the speaker whose turn overlaps it most (nearest turn when none does).

    Every word gets a speaker: with no turns at all, the one voice the transcript heard.
    """
    if not turns:
        for word in words:
            word.speaker = FIRST_SPEAKER
        return words
    turns = sorted(turns, key=lambda t: t.start)
    starts = [t.start for t in turns]
    # latest[i]: the turn ending last among turns[:i + 1]. Turns may overlap (pyannote), so a long
    # turn that began many turns earlier can still cover the word; every turn before `lo` ends before it.
    latest = list(itertools.accumulate(range(len(turns)), lambda a, b: b if turns[b].end > turns[a].end else a))
    reach = [turns[i].end for i in latest]
    for word in words:
        lo = bisect.bisect_right(reach, word.start)
        hi = bisect.bisect_right(starts, word.end)
        overlaps: dict[str, float] = {}
        for turn in turns[lo:hi]:
            overlap = min(word.end, turn.end) - max(word.start, turn.start)
            if overlap > 0:
                overlaps[turn.speaker] = overlaps.get(turn.speaker, 0.0) + overlap
        if overlaps:
            word.speaker = max(overlaps, key=overlaps.get)
        else:
            # In a pause (or a zero-length word): the turn closest to its middle (0 when inside one),
            # which is the furthest-reaching turn starting before it or the first starting after it.
            middle = (word.start + word.end) / 2
            after = bisect.bisect_right(starts, middle)
            nearby = ([turns[latest[after - 1]]] if after else []) + turns[after:after + 1]
            nearest = min(nearby, key=lambda t: max(t.start - middle, middle - t.end, 0.0))
            word.speaker = nearest.speaker
    return words


def overlaps(turns: list[SpeakerTurn]) -> list[dict]:
    """Where two or more speakers talk at once: [{start, end, speakers}], in time order."""
    changes: dict[float, Counter] = {}
    for turn in turns:
        changes.setdefault(turn.start, Counter())[turn.speaker] += 1
        changes.setdefault(turn.end, Counter())[turn.speaker] -= 1
    active: Counter = Counter()
    found: list[dict] = []
    times = sorted(changes)
    for time, following in zip(times, times[1:]):
        active.update(changes[time])
        talking = sorted(speaker for speaker, count in active.items() if count > 0)
        if len(talking) < 2:
            continue
        if found and found[-1]["end"] == time and found[-1]["speakers"] == talking:
            found[-1]["end"] = following
        else:
            found.append({"start": time, "end": following, "speakers": talking})
    return found


def ends_sentence(text: str) -> bool:
    return text.rstrip("\"')]").endswith(SENTENCE_END)


def _split(words: list[Word]) -> list[list[Word]]:
    groups: list[list[Word]] = []
    for word in words:
        if groups:
            last = groups[-1][-1]
            same = word.speaker == last.speaker and not ends_sentence(last.text) and word.start - last.end < LONG_PAUSE
            if same:
                groups[-1].append(word)
                continue
        groups.append([word])
    return groups


def _kind(text: str, previous: Segment | None, speaker: str) -> str:
    if text.rstrip().endswith("?"):
        return "question"
    if previous is not None and previous.kind == "question" and previous.speaker != speaker:
        return "answer"
    return "statement"


def build_segments(words: list[Word]) -> list[Segment]:
    """Cut at speaker changes, sentence ends and long pauses; tag type and sentiment."""
    segments: list[Segment] = []
    for group in _split(words):
        text = " ".join(w.text for w in group)
        speaker = group[0].speaker or FIRST_SPEAKER
        previous = segments[-1] if segments else None
        segments.append(Segment(
            start=group[0].start, end=group[-1].end, speaker=speaker, text=text,
            kind=_kind(text, previous, speaker), sentiment=sentiment(text), word_count=len(group),
        ))
    return segments
