"""The database: migrations, WAL, foreign keys, and results stored without duplicates."""
from __future__ import annotations

import sqlite3

import pytest

import db
from pipeline.types import AnalysisResult, Candidate, Segment, SpeakerTurn, VideoInfo


@pytest.fixture
def connection(tmp_path):
    connection = db.connect(tmp_path / "instance" / "videos.db")
    db.migrate(connection)
    yield connection
    connection.close()


def sample_result(path="/tmp/video.mp4", title="A video", segments=3) -> AnalysisResult:
    segs = [Segment(start=i * 5.0, end=i * 5.0 + 4.0, speaker=f"SPEAKER_0{i % 2}", text=f"Sentence {i}.",
                    kind="statement", sentiment=0.1, word_count=2) for i in range(segments)]
    turns = [SpeakerTurn(start=s.start, end=s.end, speaker=s.speaker) for s in segs]
    candidates = [Candidate(start=0.0, end=9.0, score=50.0, reasons=["question"], first_segment=0,
                            last_segment=1, text="Sentence 0. Sentence 1.")]
    return AnalysisResult(video=VideoInfo(source="http://example.com/v", path=path, title=title, duration=20.0),
                          language="en", words=[], segments=segs, turns=turns, candidates=candidates,
                          diarization_backend="embedded", diarization_reason="test", timings={"download": 1.0})


def counts(connection, job_id=None):
    where, args = ("WHERE job_id = ?", (job_id,)) if job_id is not None else ("", ())
    return {table: connection.execute(f"SELECT COUNT(*) FROM {table} {where}", args).fetchone()[0]
            for table in ("segments", "speaker_turns", "candidates", "clips")}


def test_migrations_set_user_version_and_are_idempotent(tmp_path):
    path = tmp_path / "fresh.db"
    connection = db.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 0
    db.migrate(connection)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"jobs", "segments", "speaker_turns", "candidates", "clips"} <= tables
    job_id = db.create_job(connection, "http://example.com/a", "720p")
    db.migrate(connection)  # a second run (every start-up) changes nothing and loses nothing
    connection.close()
    again = db.connect(path)
    db.migrate(again)
    assert again.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
    assert db.get_job(again, job_id)["url"] == "http://example.com/a"
    assert again.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again.close()


def test_wal_mode_and_foreign_keys_on(connection):
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_job_delete_cascades(connection):
    keep = db.create_job(connection, "http://example.com/keep", "720p")
    gone = db.create_job(connection, "http://example.com/gone", "720p")
    for job_id in (keep, gone):
        db.save_result(connection, job_id, sample_result())
        candidate = db.candidates_for(connection, job_id)[0]
        db.create_clip(connection, job_id, 0.0, 5.0, False, False, candidate["id"])
    assert counts(connection, gone) == {"segments": 3, "speaker_turns": 3, "candidates": 1, "clips": 1}
    db.delete_job(connection, gone)
    assert db.get_job(connection, gone) is None
    assert counts(connection, gone) == {"segments": 0, "speaker_turns": 0, "candidates": 0, "clips": 0}
    assert counts(connection, keep) == {"segments": 3, "speaker_turns": 3, "candidates": 1, "clips": 1}


def test_foreign_keys_refuse_orphans(connection):
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("INSERT INTO segments (job_id, position, start, end, speaker, text, kind, sentiment)"
                           " VALUES (999, 0, 0, 1, 'A', 'x', 'statement', 0)")


def test_save_result_replaces_and_never_duplicates(connection):
    job_id = db.create_job(connection, "http://example.com/v", "720p")
    db.save_result(connection, job_id, sample_result(segments=4))
    db.save_result(connection, job_id, sample_result(segments=4))  # a retry or a resumed run
    assert counts(connection, job_id) == {"segments": 4, "speaker_turns": 4, "candidates": 1, "clips": 0}
    job = db.get_job(connection, job_id)
    assert (job["status"], job["title"], job["duration"], job["language"]) == ("Processed", "A video", 20.0, "en")
    assert job["finished_at"] is not None
    assert [s["position"] for s in db.segments_for(connection, job_id)] == [0, 1, 2, 3]


def test_candidate_delete_keeps_clip(connection):
    job_id = db.create_job(connection, "http://example.com/v", "720p")
    db.save_result(connection, job_id, sample_result())
    candidate = db.candidates_for(connection, job_id)[0]
    clip_id = db.create_clip(connection, job_id, 0.0, 9.0, True, False, candidate["id"])
    db.save_result(connection, job_id, sample_result())  # candidates replaced
    assert db.get_clip(connection, clip_id)["candidate_id"] is None


def test_list_count_and_queue_counts(connection):
    ids = [db.create_job(connection, f"http://example.com/{i}", "720p") for i in range(5)]
    db.set_job_status(connection, ids[0], "Error", error="boom")
    db.set_job_status(connection, ids[1], "Queued")
    db.set_job_status(connection, ids[2], "Processing")
    assert db.count_jobs(connection) == 5 and db.count_jobs(connection, "Error") == 1
    assert [row["id"] for row in db.list_jobs(connection, 2, 0)] == [ids[4], ids[3]]
    assert [row["id"] for row in db.list_jobs(connection, 10, 4)] == [ids[0]]
    assert [row["id"] for row in db.list_jobs(connection, 10, 0, "Error")] == [ids[0]]
    assert db.queue_counts(connection) == {"queued": 3, "active": 1}  # 2 Pending + 1 Queued; 1 Processing
    assert db.unfinished_job_ids(connection) == [ids[1], ids[2], ids[3], ids[4]]
    assert db.unfinished_job_for_url(connection, "http://example.com/2")["id"] == ids[2]
    assert db.unfinished_job_for_url(connection, "http://example.com/0") is None  # Error is finished
    assert [row["id"] for row in db.failed_jobs(connection)] == [ids[0]]


def test_transaction_rolls_back_on_error(connection):
    with pytest.raises(RuntimeError):
        with db.transaction(connection):
            db.create_job(connection, "http://example.com/x", "720p")
            raise RuntimeError("boom")
    assert db.count_jobs(connection) == 0


def test_job_ids_are_never_reused(connection):
    first = db.create_job(connection, "http://example.com/1", "720p")
    newest = db.create_job(connection, "http://example.com/2", "720p")
    db.delete_job(connection, newest)
    again = db.create_job(connection, "http://example.com/3", "720p")
    assert again > newest > first  # a new job never takes a deleted one's id (nor its folder)


def test_jobs_version_moves_on_every_job_write(connection, tmp_path):
    seen = [db.jobs_version(connection)]

    def moved():
        seen.append(db.jobs_version(connection))
        return seen[-1] != seen[-2]

    job_id = db.create_job(connection, "http://example.com/v", "720p")
    assert moved()
    db.set_job_progress(connection, job_id, "Processing", "transcribe", 0.5, "half")
    assert moved()
    other = db.connect(tmp_path / "instance" / "videos.db")  # another connection (thread or process)
    db.set_job_status(other, job_id, "Error", error="boom")
    other.close()
    assert moved()
    db.delete_job(connection, job_id)
    assert moved()


def test_claim_takes_only_a_waiting_job_and_only_once(connection):
    job_id = db.create_job(connection, "http://example.com/v", "720p")
    assert db.claim_job(connection, job_id)  # Pending
    job = db.get_job(connection, job_id)
    assert (job["status"], job["step"]) == ("Downloading", "download")
    assert not db.claim_job(connection, job_id)  # already claimed: a second copy in the queue does nothing
    assert not db.cancel_waiting_job(connection, job_id)  # running: only the job thread may stop it
    assert not db.claim_job(connection, 999)


def test_a_cancel_before_the_claim_wins_and_the_claim_after_it_fails(connection):
    job_id = db.create_job(connection, "http://example.com/v", "720p")
    db.set_job_status(connection, job_id, "Queued", step="queued")
    assert db.cancel_waiting_job(connection, job_id)
    assert not db.claim_job(connection, job_id)
    assert db.get_job(connection, job_id)["status"] == "Cancelled"
    assert db.requeue_job(connection, job_id)  # a retry makes it claimable again
    assert db.claim_job(connection, job_id)
    assert not db.requeue_job(connection, job_id)  # not while it runs


def test_a_failed_job_keeps_its_step(connection):
    job_id = db.create_job(connection, "http://example.com/v", "720p")
    db.claim_job(connection, job_id)
    db.set_job_progress(connection, job_id, "Processing", "transcribe", 0.4, "12/30 s")
    db.fail_job(connection, job_id, "The audio could not be read.")
    job = db.get_job(connection, job_id)
    assert (job["status"], job["step"], job["error"]) == ("Error", "transcribe", "The audio could not be read.")
    assert job["finished_at"] is not None and job["detail"] is None


def test_upgrading_an_existing_database_keeps_its_jobs(tmp_path):
    """A database made before accounts existed: its jobs stay, submitted by no one."""
    path = tmp_path / "old.db"
    old = db.connect(path)
    old.executescript(f"BEGIN; {db.MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    old.execute("INSERT INTO jobs (url, status, resolution, created_at, updated_at) VALUES ('http://e.com/a', 'Processed', '720p', 1, 1)")
    old.close()
    upgraded = db.connect(path)
    db.migrate(upgraded)
    assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
    job = db.list_jobs(upgraded)[0]
    assert (job["url"], job["user_id"], job["submitted_by"]) == ("http://e.com/a", None, None)
    assert upgraded.execute("PRAGMA foreign_key_check").fetchall() == []
    upgraded.close()


def test_deleting_an_account_keeps_its_jobs_and_ends_its_sessions_and_tokens(connection):
    user_id = db.create_user(connection, "ann", "hash", "member")
    job_id = db.create_job(connection, "http://example.com/a", "720p", user_id=user_id)
    db.create_session(connection, user_id, "s" * 64)
    db.create_token(connection, user_id, "script", "t" * 64)
    assert db.get_job(connection, job_id)["submitted_by"] == "ann"
    db.delete_user(connection, user_id)
    assert db.get_job(connection, job_id)["submitted_by"] is None
    assert db.session_user(connection, "s" * 64, 0) is None and db.token_user(connection, "t" * 64) is None
