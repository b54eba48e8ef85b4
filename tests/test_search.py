"""Transcript search: queries made safe for FTS5, ranking, highlighting, filters, and the ranking window."""
from __future__ import annotations

import random

import pytest

import db
import search
import speakers
from jobs import UserError
from pipeline.types import AnalysisResult, Segment, VideoInfo
from tests.test_db import connection  # noqa: F401  (a migrated database)


def add_job(connection, lines, title="A talk", duration=60.0) -> int:
    """A processed job whose segments say `lines` ((speaker, text), 5 s each), stored by save_result."""
    job_id = db.create_job(connection, f"http://example.com/{title}", "720p")
    segments = [Segment(start=i * 5.0, end=i * 5.0 + 4.0, speaker=speaker, text=text, kind="statement",
                        sentiment=0.0, word_count=len(text.split())) for i, (speaker, text) in enumerate(lines)]
    db.save_result(connection, job_id, AnalysisResult(
        video=VideoInfo(source="http://example.com", path="/v.mp4", title=title, duration=duration), language="en",
        words=[], segments=segments, turns=[], candidates=[], diarization_backend="embedded",
        diarization_reason="test", timings={}))
    return job_id


# --- what a person types ----------------------------------------------------------------------

@pytest.mark.parametrize("typed, expression", [
    ("tomatoes", '"tomatoes"'),
    ("  tomatoes   sun ", '"tomatoes" AND "sun"'),
    ('"six hours"', '"six hours"'),
    ('"six hours" sun', '"six hours" AND "sun"'),
    ("tomat*", '"tomat"*'),
    ('"direct sun"*', '"direct sun"*'),
    ('"unbalanced phrase', '"unbalanced phrase"'),  # a missing closing quote ends the phrase at the end
    ('sun "', '"sun"'),
    ("NEAR(a b", '"NEAR(a" AND "b"'),  # FTS5 syntax is only text
    ("tomatoes OR NOT sun", '"tomatoes" AND "OR" AND "NOT" AND "sun"'),
    ("text:sun ^sun sun^ (sun) -sun +sun {a b}:c", '"text:sun" AND "^sun" AND "sun^" AND "(sun)" AND "-sun" AND "+sun"'
                                                   ' AND "{a" AND "b}:c"'),
    ("* sun ** - !!", '"sun"'),  # a lone *, or only punctuation, is left out
    ("café crème", '"café" AND "crème"'),
    ("don't", '"don\'t"'),
])
def test_queries_become_quoted_terms(typed, expression):
    assert search.match_expression(typed) == expression


@pytest.mark.parametrize("typed, message", [
    ("", "Type a word to search for"),
    ("   ", "Type a word to search for"),
    ("*", "Type a word to search for"),
    ('"', "Type a word to search for"),
    ('""', "Type a word to search for"),
    ("!!! ??? ...", "Type a word to search for"),
    ("t*", "at least 2 letters before *"),
    ('"six h"*', "at least 2 letters before *"),
    ("x" * 501, "too long"),
    (" ".join(["sun"] * 21), "At most 20 words"),
])
def test_queries_that_cannot_be_searched_say_why(typed, message):
    with pytest.raises(UserError) as refused:
        search.match_expression(typed)
    assert message in str(refused.value) and refused.value.status == 400


def test_no_typed_text_reaches_fts5_as_syntax(connection):
    """Random strings of FTS5's special characters and keywords: each is searched or refused with a
    message, never an SQLite error."""
    add_job(connection, [("A", "Tomatoes need sun and near daily water: or not?")])
    pieces = ['"', "*", "(", ")", "^", ":", "+", "-", "{", "}", ",", ".", "'", "NEAR", "AND", "OR", "NOT",
              "NEAR(", "text", "sun", "tomato", " ", " ", "\\", "%", "_", "\x00", "é", "日本"]
    rng = random.Random(5)
    searched = refused = 0
    for _ in range(400):
        typed = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        try:
            search.search(connection, typed)
            searched += 1
        except UserError:
            refused += 1
    assert searched > 100 and refused > 10


# --- hits ----------------------------------------------------------------------------------------

def test_hits_are_ranked_highlighted_and_carry_where_they_are(connection):
    job_id = add_job(connection, [
        ("SPEAKER_00", "We talked for a long time about the weather, the garden, the neighbours and tomatoes too."),
        ("SPEAKER_01", "Tomatoes, tomatoes!"),
        ("SPEAKER_00", "Nothing to see here."),
    ], title="Garden show", duration=14.0)
    results = search.search(connection, "tomatoes")
    assert [hit.text for hit in results.hits] == ["Tomatoes, tomatoes!", results.hits[1].text]  # bm25: denser first
    best = results.hits[0]
    assert (best.job_id, best.title, best.speaker, best.start, best.end) == (job_id, "Garden show", "SPEAKER_01", 5.0, 9.0)
    assert best.snippet == [("Tomatoes", True), (", ", False), ("tomatoes", True), ("!", False)]
    assert best.score > results.hits[1].score > 0
    assert (best.clip_start, best.clip_end) == (4.0, 10.0)  # the segment with a second either side
    first = results.hits[1]
    assert (first.clip_start, first.clip_end) == (0.0, 5.0)  # not before the start of the video
    last = search.search(connection, "weather").hits[0]
    assert last.snippet[0] == ("We talked for a long time about the ", False) and last.snippet[1] == ("weather", True)
    assert not results.more and not results.partial


def test_stems_prefixes_and_phrases(connection):
    add_job(connection, [("A", "They grow quickly in direct sunlight."), ("B", "Growing food is fun."),
                         ("A", "Sunlight, direct and bright."), ("B", "Café au lait.")])
    assert {hit.text for hit in search.search(connection, "grow").hits} == {
        "They grow quickly in direct sunlight.", "Growing food is fun."}
    assert [hit.text for hit in search.search(connection, '"direct sunlight"').hits] == [
        "They grow quickly in direct sunlight."]
    assert len(search.search(connection, "sunl*").hits) == 2
    assert len(search.search(connection, '"direct sun"*').hits) == 1
    assert [hit.text for hit in search.search(connection, "cafe").hits] == ["Café au lait."]  # accents fold
    assert search.search(connection, "moon").hits == []


def test_filters_by_speaker_and_by_video(connection):
    garden = add_job(connection, [("Anna", "Tomatoes like sun."), ("Bob", "Tomatoes like water.")], title="Garden")
    kitchen = add_job(connection, [("Anna", "Tomatoes in a sauce."), ("Carl", "Tomatoes on bread.")], title="Kitchen")
    assert len(search.search(connection, "tomatoes").hits) == 4
    assert {hit.text for hit in search.search(connection, "tomatoes", speaker="Anna").hits} == {
        "Tomatoes like sun.", "Tomatoes in a sauce."}
    assert {hit.job_id for hit in search.search(connection, "tomatoes", job_id=kitchen).hits} == {kitchen}
    assert [hit.text for hit in search.search(connection, "tomatoes", "Anna", garden).hits] == ["Tomatoes like sun."]
    with pytest.raises(UserError, match="No one called 'Dora' speaks in any processed video"):
        search.search(connection, "tomatoes", speaker="Dora")
    with pytest.raises(UserError, match=f"No one called 'Carl' speaks in job {garden}"):
        search.search(connection, "tomatoes", speaker="Carl", job_id=garden)
    assert search.search(connection, "sauce", speaker="Bob").hits == []  # he exists, he never said it


def test_a_named_speaker_is_shown_and_found_by_name_in_every_video(connection):
    garden = add_job(connection, [("SPEAKER_00", "Tomatoes like sun?"), ("SPEAKER_01", "Tomatoes like water.")],
                     title="Garden")
    kitchen = add_job(connection, [("SPEAKER_00", "Tomatoes in a sauce."), ("SPEAKER_01", "Tomatoes on bread.")],
                      title="Kitchen")
    speakers.name_speaker(connection, garden, "SPEAKER_01", "Anna Berg")
    speakers.name_speaker(connection, kitchen, "SPEAKER_00", "Anna Berg")
    hits = search.search(connection, "tomatoes").hits
    shown = {(hit.job_id, hit.text): (hit.speaker, hit.speaker_name) for hit in hits}
    assert shown == {(garden, "Tomatoes like sun?"): ("SPEAKER_00", None),
                     (garden, "Tomatoes like water."): ("SPEAKER_01", "Anna Berg"),
                     (kitchen, "Tomatoes in a sauce."): ("SPEAKER_00", "Anna Berg"),
                     (kitchen, "Tomatoes on bread."): ("SPEAKER_01", None)}
    assert {hit.text for hit in search.search(connection, "tomatoes", speaker="anna berg").hits} == {
        "Tomatoes like water.", "Tomatoes in a sauce."}
    # A label stands for the speakers nobody has named: SPEAKER_01 of the garden is Anna now.
    unnamed = search.search(connection, "tomatoes", speaker="SPEAKER_01").hits
    assert [hit.text for hit in unnamed] == ["Tomatoes on bread."]
    with pytest.raises(UserError, match=f"No one called 'SPEAKER_01' speaks in job {garden}"):
        search.search(connection, "tomatoes", speaker="SPEAKER_01", job_id=garden)
    assert [hit.text for hit in search.search(connection, "tomatoes", "Anna Berg", kitchen).hits] == [
        "Tomatoes in a sauce."]
    assert db.speakers(connection) == ["Anna Berg", "SPEAKER_00", "SPEAKER_01"]
    assert db.speakers(connection, garden) == ["Anna Berg", "SPEAKER_00"]


def test_a_filtered_page_holds_the_speakers_best_matches_in_order(connection):
    rng = random.Random(4)
    lines = [(rng.choice(["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]),
              " ".join(["tomatoes"] * rng.randint(1, 4) + ["and"] * rng.randint(0, 12)) + ".") for _ in range(300)]
    job_id = add_job(connection, lines, duration=2000.0)
    speakers.name_speaker(connection, job_id, "SPEAKER_02", "Anna")
    everyone = [row for row in db.search_segments(connection, '"tomatoes"', limit=300)[0]]
    for speaker, kept in (("SPEAKER_01", lambda row: row["speaker"] == "SPEAKER_01"),
                          ("Anna", lambda row: row["speaker_name"] == "Anna")):
        expected = [row["id"] for row in everyone if kept(row)]
        pages = [db.search_segments(connection, '"tomatoes"', speaker, limit=7, offset=offset)[0]
                 for offset in range(0, 21, 7)]
        assert [row["id"] for page in pages for row in page] == expected[:21], speaker
        assert [row["id"] for row in db.search_segments(connection, '"tomatoes"', speaker, job_id, limit=7)[0]] == \
            expected[:7]


def test_renaming_or_unnaming_shows_in_the_next_search(connection):
    job_id = add_job(connection, [("SPEAKER_00", "Tomatoes like sun.")])
    speakers.name_speaker(connection, job_id, "SPEAKER_00", "Anna")
    speakers.rename_person(connection, db.person_by_name(connection, "Anna")["id"], "Anna Berg")
    [hit] = search.search(connection, "tomatoes", speaker="Anna Berg").hits
    assert hit.speaker_name == "Anna Berg"
    with pytest.raises(UserError, match="No one called 'Anna' speaks"):
        search.search(connection, "tomatoes", speaker="Anna")
    speakers.name_speaker(connection, job_id, "SPEAKER_00", "")
    [hit] = search.search(connection, "tomatoes", speaker="SPEAKER_00").hits
    assert hit.speaker_name is None
    assert db.speakers(connection) == ["SPEAKER_00"]  # the person went with their last speaker


def test_request_filters_check_the_job(connection):
    job_id = add_job(connection, [("A", "Hello.")])
    assert search.request_filters(connection, {"q": "hi", "speaker": " A ", "job": str(job_id)}) == ("hi", "A", job_id)
    assert search.request_filters(connection, {"job": "", "speaker": ""}) == ("", None, None)
    with pytest.raises(UserError, match="'abc' is not a job id"):
        search.request_filters(connection, {"q": "hi", "job": "abc"})
    with pytest.raises(UserError, match="There is no job 999") as missing:
        search.request_filters(connection, {"q": "hi", "job": "999"})
    assert missing.value.status == 404


def test_pages_follow_one_another(connection):
    add_job(connection, [("A", f"Tomatoes number {i}.") for i in range(7)])
    first = search.search(connection, "tomatoes", limit=3)
    second = search.search(connection, "tomatoes", limit=3, offset=3)
    third = search.search(connection, "tomatoes", limit=3, offset=6)
    assert first.more and second.more and not third.more
    ids = [hit.segment_id for page in (first, second, third) for hit in page.hits]
    assert len(ids) == len(set(ids)) == 7


def test_only_the_newest_matches_are_ranked_beyond_the_window(connection):
    old = add_job(connection, [("A", "Tomatoes tomatoes tomatoes.")], title="Old")  # the best match, but old
    add_job(connection, [("A", f"Some tomatoes, plain sentence number {i}.") for i in range(5)], title="New")
    rows, partial = db.search_segments(connection, '"tomatoes"', window=3)
    assert partial and len(rows) == 3 and old not in {row["job_id"] for row in rows}
    rows, partial = db.search_segments(connection, '"tomatoes"', window=6)
    assert not partial and rows[0]["job_id"] == old
    rows, partial = db.search_segments(connection, '"tomatoes"', job_id=old, window=3)  # within one video: all of it
    assert not partial and [row["job_id"] for row in rows] == [old]


def test_speakers_lists_names_in_use(connection):
    garden = add_job(connection, [("Zoe", "Hi."), ("Anna", "Hello."), ("Zoe", "Bye.")])
    add_job(connection, [("Bob", "Hi."), ("SPEAKER_00", "Hello.")])
    assert db.speakers(connection) == ["Anna", "Bob", "SPEAKER_00", "Zoe"]
    assert db.speakers(connection, garden) == ["Anna", "Zoe"]
    assert db.speakers(connection, limit=2) == ["Anna", "Bob"]
