"""Transcript search: what a person types, made into a safe FTS5 query, and the hits it finds.

Shared by the search page and the JSON API; the index itself lives in db.py (segments_fts).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import db
import jobs
from jobs import UserError

MAX_QUERY_CHARS = 500
MAX_LIMIT = 100  # hits per page
MAX_TERMS = 20
MIN_PREFIX = 2  # letters before a *: "t*" would have to merge the postings of every word starting with t
CLIP_PADDING = 1.0  # seconds of context kept before and after a hit's segment when it is clipped
# A "phrase" (its closing quote may be missing) or a word, either one ending in * for a prefix.
# Neither can hold a double quote, so quoting a term is enough to keep what was typed from being
# read as FTS5 syntax (AND, NEAR(, column:, ^, parentheses...).
_TERM = re.compile(r'"([^"]*)"?(\*?)|([^\s"]+)')
_TOKEN = re.compile(r"[^\W_]+")  # what the index's tokenizer keeps of a term: runs of letters and digits
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a NUL would end FTS5's reading of the query mid-string


@dataclass
class Hit:
    """One matching segment, with where to play it from and the range "clip this" proposes."""
    segment_id: int
    job_id: int
    title: str
    start: float
    end: float
    speaker: str  # the label the diarizer gave (SPEAKER_00...)
    speaker_name: str | None  # the person's name, when someone named the speaker
    text: str
    snippet: list[tuple[str, bool]]  # (text, matched) pieces of the segment around its matches
    score: float  # bm25, sign turned so that higher is better
    clip_start: float
    clip_end: float


@dataclass
class Results:
    query: str
    speaker: str | None
    job_id: int | None
    hits: list[Hit]
    limit: int
    offset: int
    more: bool  # another page follows
    partial: bool  # more segments matched than are ranked: the newest db.SEARCH_WINDOW were


def match_expression(text: str) -> str:
    """The FTS5 expression for a query: every word and "quoted phrase" must appear (in that form or
    another of its stem: "grow" finds "growing"), and a trailing * makes a prefix ("tomat*")."""
    if len(text) > MAX_QUERY_CHARS:
        raise UserError(f"The search is too long: at most {MAX_QUERY_CHARS} characters.")
    terms = []
    for phrase, phrase_prefix, word in _TERM.findall(_CONTROL.sub(" ", text)):
        content, prefix = (word.rstrip("*"), word.endswith("*")) if word else (phrase, phrase_prefix == "*")
        tokens = _TOKEN.findall(content)
        if not tokens:  # a lone *, punctuation, an empty "": nothing the index could match
            continue
        if prefix and len(tokens[-1]) < MIN_PREFIX:
            raise UserError(f"Put at least {MIN_PREFIX} letters before * ('{tokens[-1]}*' would match too much).")
        terms.append(f'"{content}"' + ("*" if prefix else ""))
    if not terms:
        raise UserError("Type a word to search for (letters or digits).")
    if len(terms) > MAX_TERMS:
        raise UserError(f"At most {MAX_TERMS} words or phrases at a time.")
    return " AND ".join(terms)


def request_filters(connection, values) -> tuple[str, str | None, int | None]:
    """The query, speaker and job (an existing one) a request asks for: `q`, `speaker`, `job`."""
    return (values.get("q") or "", (values.get("speaker") or "").strip() or None,
            jobs.job_filter(connection, values.get("job")))


def search(connection, text: str, speaker: str | None = None, job_id: int | None = None, limit: int = 20,
           offset: int = 0) -> Results:
    """The hits for a query, best first; job_id (an existing job's) keeps to that video, speaker to
    what someone is called there (a person's name, or an unnamed speaker's label). A speaker who is
    no one there is an error, not an empty page: a typo is not "never said"."""
    match = match_expression(text)
    if speaker is not None and not db.speaker_exists(connection, speaker, job_id):
        where = f"job {job_id}" if job_id is not None else "any processed video"
        raise UserError(f"No one called '{speaker[:100]}' speaks in {where}.")
    rows, partial = db.search_segments(connection, match, speaker, job_id, limit + 1, offset)
    return Results(query=text, speaker=speaker, job_id=job_id, hits=[_hit(row) for row in rows[:limit]],
                   limit=limit, offset=offset, more=len(rows) > limit, partial=partial)


def _hit(row) -> Hit:
    end_of_video = row["duration"] or row["end"] + CLIP_PADDING  # a video may not say how long it is
    return Hit(segment_id=row["id"], job_id=row["job_id"], title=row["title"], start=row["start"], end=row["end"],
               speaker=row["speaker"], speaker_name=row["speaker_name"], text=row["text"],
               snippet=_pieces(row["snippet"]),
               score=-row["score"], clip_start=round(max(row["start"] - CLIP_PADDING, 0.0), 2),
               clip_end=round(min(row["end"] + CLIP_PADDING, end_of_video), 2))


def _pieces(snippet: str) -> list[tuple[str, bool]]:
    """snippet()'s text, its matches marked by \\x02...\\x03, as (text, matched) pieces: pages escape
    each piece like any other text, so nothing in a transcript can become markup."""
    pieces = re.split("\x02(.*?)\x03", snippet, flags=re.S)  # odd places hold what was between the marks
    return [(piece, i % 2 == 1) for i, piece in enumerate(pieces) if piece]
