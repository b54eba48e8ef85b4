"""The search index follows the segments table: filled with an analysis, changed with a segment,
emptied with a job, rolled back with a failed save, and built by the migration for jobs already there."""
from __future__ import annotations

import pytest

import db
from pipeline.types import AnalysisResult, Candidate, Segment, VideoInfo
from tests.test_db import connection  # noqa: F401  (a migrated database)


def result(texts, reasons=("a question",)) -> AnalysisResult:
    segments = [Segment(start=i * 5.0, end=i * 5.0 + 4.0, speaker=f"SPEAKER_0{i % 2}", text=text, kind="statement",
                        sentiment=0.0, word_count=len(text.split())) for i, text in enumerate(texts)]
    candidates = [Candidate(start=0.0, end=9.0, score=50.0, reasons=list(reasons), first_segment=0, last_segment=1,
                            text=" ".join(texts[:2]))]
    return AnalysisResult(video=VideoInfo(source="http://example.com", path="/v.mp4", title="A talk", duration=30.0),
                          language="en", words=[], segments=segments, turns=[], candidates=candidates,
                          diarization_backend="embedded", diarization_reason="test", timings={})


def matches(connection, word: str) -> list[int]:
    """Segment ids the index gives for a word, checked against the table: none may be stale."""
    ids = [row[0] for row in connection.execute(
        "SELECT rowid FROM segments_fts WHERE segments_fts MATCH ? ORDER BY rowid", (f'"{word}"',))]
    in_table = [row[0] for row in connection.execute(
        f"SELECT id FROM segments WHERE id IN ({','.join('?' * len(ids))})", ids)]
    assert in_table == ids, "the index names segments that are gone"
    return ids


def index_is_in_step(connection) -> bool:
    """FTS5's own check of the index against its content table (rank 1: compare with the content)."""
    connection.execute("INSERT INTO segments_fts (segments_fts, rank) VALUES ('integrity-check', 1)")
    return True


def test_saving_an_analysis_indexes_it_and_saving_again_replaces_it(connection):
    job_id = db.create_job(connection, "http://example.com/a", "720p")
    db.save_result(connection, job_id, result(["Tomatoes need sun.", "Basil needs water."]))
    assert len(matches(connection, "tomatoes")) == 1 and len(matches(connection, "basil")) == 1
    db.save_result(connection, job_id, result(["Peppers need sun.", "Basil needs water."]))  # a retry
    assert matches(connection, "tomatoes") == [] and len(matches(connection, "peppers")) == 1
    assert len(matches(connection, "basil")) == 1
    assert index_is_in_step(connection)


def test_a_save_that_fails_leaves_the_index_as_it_was(connection):
    job_id = db.create_job(connection, "http://example.com/a", "720p")
    db.save_result(connection, job_id, result(["Tomatoes need sun."]))
    broken = result(["Peppers need sun."], reasons=[object()])  # fails (not JSON) after the segments went in
    with pytest.raises(TypeError):
        db.save_result(connection, job_id, broken)
    assert len(matches(connection, "tomatoes")) == 1 and matches(connection, "peppers") == []
    assert index_is_in_step(connection)


def test_editing_a_segment_reindexes_it_and_renaming_a_speaker_needs_nothing(connection):
    job_id = db.create_job(connection, "http://example.com/a", "720p")
    db.save_result(connection, job_id, result(["Tomatoes need sun.", "Basil needs water."]))
    segment = db.segments_for(connection, job_id)[0]
    connection.execute("UPDATE segments SET text = 'Peppers need sun.' WHERE id = ?", (segment["id"],))
    assert matches(connection, "tomatoes") == [] and matches(connection, "peppers") == [segment["id"]]
    # Speaker names are read from the table when searching: a rename is seen at once.
    connection.execute("UPDATE segments SET speaker = 'Anna' WHERE job_id = ? AND speaker = 'SPEAKER_00'", (job_id,))
    rows, _ = db.search_segments(connection, '"peppers"', speaker="Anna")
    assert [row["speaker"] for row in rows] == ["Anna"]
    assert db.search_segments(connection, '"peppers"', speaker="SPEAKER_00")[0] == []
    assert index_is_in_step(connection)


def test_deleting_a_job_empties_its_part_of_the_index(connection):
    keep = db.create_job(connection, "http://example.com/keep", "720p")
    gone = db.create_job(connection, "http://example.com/gone", "720p")
    db.save_result(connection, keep, result(["Basil needs water."]))
    db.save_result(connection, gone, result(["Tomatoes need sun.", "Basil needs light."]))
    db.delete_job(connection, gone)  # segments go by ON DELETE CASCADE; a trigger takes them out of the index
    assert matches(connection, "tomatoes") == []
    assert [row["job_id"] for row in db.search_segments(connection, '"basil"')[0]] == [keep]
    assert index_is_in_step(connection)


def test_migration_builds_the_index_for_jobs_processed_before_it(tmp_path):
    path = tmp_path / "old.db"
    old = db.connect(path)
    before = next(i for i, migration in enumerate(db.MIGRATIONS) if "segments_fts" in migration)
    old.executescript(f"BEGIN IMMEDIATE; {';'.join(db.MIGRATIONS[:before])}; PRAGMA user_version = {before}; COMMIT;")
    jobs = []
    for texts in (["Tomatoes need sun.", "Basil needs water."], ["Tomatoes again, tomatoes!"]):
        jobs.append(db.create_job(old, "http://example.com/v", "720p"))
        db.save_result(old, jobs[-1], result(texts))
    assert old.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'segments_fts'").fetchone()[0] == 0
    old.close()

    connection = db.connect(path)
    db.migrate(connection)  # what the next start-up does
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
    rows, partial = db.search_segments(connection, '"tomatoes"')
    assert [row["job_id"] for row in rows] == [jobs[1], jobs[0]] and not partial
    assert rows[0]["snippet"] == "\x02Tomatoes\x03 again, \x02tomatoes\x03!"
    assert index_is_in_step(connection)
    new_job = db.create_job(connection, "http://example.com/w", "720p")  # and it keeps up from then on
    db.save_result(connection, new_job, result(["Tomatoes at last."]))
    assert len(matches(connection, "tomatoes")) == 3
    db.migrate(connection)  # a second start-up changes nothing
    assert len(matches(connection, "tomatoes")) == 3 and index_is_in_step(connection)
    connection.close()
