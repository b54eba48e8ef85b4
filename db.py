"""The SQLite database: schema migrations, connections, and every query the app makes."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from array import array
from pathlib import Path

from flask import current_app

ACTIVE_STATUSES = ("Downloading", "Processing")
WAITING_STATUSES = ("Pending", "Queued")
UNFINISHED_STATUSES = WAITING_STATUSES + ACTIVE_STATUSES
FINISHED_STATUSES = ("Processed", "Error", "Cancelled")

# Numbered migrations; PRAGMA user_version records how many have run.
MIGRATIONS = [
    """
    CREATE TABLE jobs (
        -- AUTOINCREMENT: a deleted job's id (and so its folder and open streams) is never reused.
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        title TEXT,
        status TEXT NOT NULL DEFAULT 'Pending',
        step TEXT,
        progress REAL NOT NULL DEFAULT 0,
        detail TEXT,
        error TEXT,
        resolution TEXT NOT NULL,
        num_speakers INTEGER,
        min_speakers INTEGER,
        max_speakers INTEGER,
        duration REAL,
        uploader TEXT,
        thumbnail TEXT,
        webpage_url TEXT,
        video_path TEXT,
        language TEXT,
        diarization_backend TEXT,
        diarization_reason TEXT,
        timings TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
    CREATE INDEX jobs_status ON jobs (status);
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        speaker TEXT NOT NULL,
        text TEXT NOT NULL,
        kind TEXT NOT NULL,
        sentiment REAL NOT NULL
    );
    CREATE INDEX segments_job ON segments (job_id, position);
    CREATE TABLE speaker_turns (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        start REAL NOT NULL,
        end REAL NOT NULL,
        speaker TEXT NOT NULL
    );
    CREATE INDEX turns_job ON speaker_turns (job_id, start);
    CREATE TABLE candidates (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        score REAL NOT NULL,
        reasons TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX candidates_job ON candidates (job_id, rank);
    CREATE TABLE clips (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        candidate_id INTEGER REFERENCES candidates (id) ON DELETE SET NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        captions INTEGER NOT NULL DEFAULT 0,
        vertical INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'Creating',
        filename TEXT,
        error TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX clips_job ON clips (job_id, id);
    -- A counter every change to jobs bumps, whoever makes it: rendered job lists are reused until it moves.
    CREATE TABLE jobs_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
    INSERT INTO jobs_version (id, version) VALUES (1, 0);
    CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs BEGIN UPDATE jobs_version SET version = version + 1; END;
    CREATE TRIGGER jobs_updated AFTER UPDATE ON jobs BEGIN UPDATE jobs_version SET version = version + 1; END;
    CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs BEGIN UPDATE jobs_version SET version = version + 1; END;
    """,
    # Speaker names: a job's speakers (as the diarizer labelled them, with their voiceprints) and the
    # people they are, across videos. Existing jobs get their speakers from their turns (no voiceprint).
    """
    CREATE TABLE people (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at REAL NOT NULL
    );
    CREATE TABLE speakers (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
        seconds REAL NOT NULL DEFAULT 0,
        voiceprint BLOB,
        voiceprint_model TEXT,
        UNIQUE (job_id, label)
    );
    CREATE INDEX speakers_person ON speakers (person_id);
    CREATE TABLE rejected_suggestions (
        speaker_id INTEGER NOT NULL REFERENCES speakers (id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        PRIMARY KEY (speaker_id, person_id)
    );
    INSERT INTO speakers (job_id, label, seconds)
        SELECT job_id, speaker, SUM(end - start) FROM speaker_turns GROUP BY job_id, speaker;
    """,
    # Settings changed while the app runs (the Settings page), and who changed them.
    """
    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        changed_at REAL NOT NULL,
        changed_by TEXT NOT NULL
    );
    -- Who changed which setting when; a secret's values are never written here.
    CREATE TABLE settings_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        changed_at REAL NOT NULL,
        changed_by TEXT NOT NULL,
        name TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT
    );
    """,
    # Accounts, their sign-ins and API tokens, and who submitted each job.
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        created_at REAL NOT NULL,
        last_sign_in_at REAL
    );
    -- A signed-in browser: its cookie carries a random id, stored here only as a SHA-256 hash.
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        id_hash TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at REAL NOT NULL
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used_at REAL
    );
    CREATE INDEX api_tokens_user ON api_tokens (user_id, id);
    -- Failed sign-ins, by account name ('name:…') and by client address ('address:…'), for throttling.
    CREATE TABLE sign_in_failures (key TEXT NOT NULL, failed_at REAL NOT NULL);
    CREATE INDEX sign_in_failures_key ON sign_in_failures (key, failed_at);
    ALTER TABLE jobs ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
    """,
    # A playlist or channel, expanded into one job per video (jobs.group_id); it lives as long as one of them.
    """
    CREATE TABLE job_groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        queued INTEGER NOT NULL,  -- how many of its videos were queued
        video_count INTEGER,  -- how many videos the site said it has, when it said
        more INTEGER NOT NULL DEFAULT 0,  -- it has more videos than were queued (the cap)
        user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,  -- who submitted it, as its jobs
        created_at REAL NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN group_id INTEGER REFERENCES job_groups (id);
    CREATE INDEX jobs_group ON jobs (group_id);
    CREATE TRIGGER job_groups_emptied AFTER DELETE ON jobs
        WHEN OLD.group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs WHERE group_id = OLD.group_id)
        BEGIN DELETE FROM job_groups WHERE id = OLD.group_id; END;
    """,
    # An uploaded file's job: its url is the file's name, and the file lies in the job's folder.
    """
    ALTER TABLE jobs ADD COLUMN uploaded INTEGER NOT NULL DEFAULT 0;
    """,
    # Transcript search: an FTS5 index over the segments' text that triggers keep in step with the
    # table, whoever writes it (save_result, a delete's cascade, a later edit); built here for the
    # jobs already processed. Porter stemming finds "grow" in "growing"; 2- and 3-letter prefix
    # indexes keep short prefix searches ("ga*") fast. Speakers' names are not in it: a search
    # reads them from speakers and people, so naming or renaming someone needs no reindexing.
    """
    CREATE VIRTUAL TABLE segments_fts USING fts5(
        text, content='segments', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2', prefix='2 3');
    CREATE TRIGGER segments_fts_inserted AFTER INSERT ON segments BEGIN
        INSERT INTO segments_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER segments_fts_deleted AFTER DELETE ON segments BEGIN
        INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER segments_fts_updated AFTER UPDATE OF id, text ON segments BEGIN
        INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO segments_fts (rowid, text) VALUES (new.id, new.text);
    END;
    INSERT INTO segments_fts (segments_fts) VALUES ('rebuild');
    -- The speaker filter and its list of names: the labels nobody has given a name yet.
    CREATE INDEX speakers_unnamed ON speakers (label) WHERE person_id IS NULL;
    """,
]


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with WAL, a busy timeout and foreign keys; rows behave like dicts."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=True)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA busy_timeout=10000")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def migrate(connection: sqlite3.Connection) -> None:
    """Run the migrations not yet applied, each in its own transaction."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        connection.executescript(f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;")


def get_db() -> sqlite3.Connection:
    """This server thread's connection, kept from one request to the next: a new one costs its
    PRAGMAs and reading the schema, and starts with an empty page cache (bench.load, bench.search)."""
    local = current_app.extensions["db_connections"]
    if getattr(local, "connection", None) is None:
        local.connection = connect(current_app.config["SETTINGS"].database_path)
    return local.connection


def _end_request(_error=None) -> None:
    """Nothing carries over to the next request: a transaction left open is rolled back."""
    connection = getattr(current_app.extensions["db_connections"], "connection", None)
    if connection is not None and connection.in_transaction:
        connection.rollback()


def init_app(app) -> None:
    connection = connect(app.config["SETTINGS"].database_path)
    try:
        migrate(connection)
    finally:
        connection.close()
    app.extensions["db_connections"] = threading.local()
    app.teardown_appcontext(_end_request)


class transaction:
    """`with transaction(db):` runs the block in BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self):
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback):
        self.connection.execute("ROLLBACK" if kind else "COMMIT")


# --- jobs -------------------------------------------------------------------

def create_job(db, url: str, resolution: str, num_speakers=None, min_speakers=None, max_speakers=None,
               title: str | None = None, group_id: int | None = None, uploaded: bool = False,
               user_id: int | None = None) -> int:
    now = time.time()
    cursor = db.execute(
        "INSERT INTO jobs (url, title, status, resolution, num_speakers, min_speakers, max_speakers, group_id,"
        " uploaded, user_id, created_at, updated_at) VALUES (?, ?, 'Pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (url, title or url, resolution, num_speakers, min_speakers, max_speakers, group_id, int(uploaded),
         user_id, now, now))
    return cursor.lastrowid


# A job row as pages and the API show it: with the name of the account that submitted it.
JOB_ROWS = "SELECT jobs.*, users.name AS submitted_by FROM jobs LEFT JOIN users ON users.id = jobs.user_id"


def get_job(db, job_id: int) -> sqlite3.Row | None:
    return db.execute(f"{JOB_ROWS} WHERE jobs.id = ?", (job_id,)).fetchone()


def list_jobs(db, limit: int = 50, offset: int = 0, status: str | None = None) -> list[sqlite3.Row]:
    if status:
        return db.execute(f"{JOB_ROWS} WHERE status = ? ORDER BY jobs.created_at DESC, jobs.id DESC LIMIT ? OFFSET ?",
                          (status, limit, offset)).fetchall()
    return db.execute(f"{JOB_ROWS} ORDER BY jobs.created_at DESC, jobs.id DESC LIMIT ? OFFSET ?",
                      (limit, offset)).fetchall()


def jobs_version(db) -> int:
    """A number that changes whenever any job row is added, changed or deleted."""
    return db.execute("SELECT version FROM jobs_version").fetchone()[0]


def count_jobs(db, status: str | None = None) -> int:
    if status:
        return db.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", (status,)).fetchone()[0]
    return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def queue_counts(db) -> dict:
    """How many jobs wait and how many run: the numbers the home page shows."""
    rows = db.execute(
        "SELECT status, COUNT(*) FROM jobs WHERE status IN (?, ?, ?, ?) GROUP BY status", UNFINISHED_STATUSES
    ).fetchall()
    counts = {status: n for status, n in rows}
    return {"queued": sum(counts.get(s, 0) for s in WAITING_STATUSES),
            "active": sum(counts.get(s, 0) for s in ACTIVE_STATUSES)}


def unfinished_job_for_url(db, url: str) -> sqlite3.Row | None:
    return db.execute(
        f"SELECT * FROM jobs WHERE url = ? AND status IN ({','.join('?' * len(UNFINISHED_STATUSES))})",
        (url, *UNFINISHED_STATUSES)).fetchone()


def unfinished_job_ids(db) -> list[int]:
    return [row[0] for row in db.execute(
        f"SELECT id FROM jobs WHERE status IN ({','.join('?' * len(UNFINISHED_STATUSES))}) ORDER BY id",
        UNFINISHED_STATUSES)]


def set_job_status(db, job_id: int, status: str, step: str | None = None, progress: float = 0.0,
                   detail: str | None = None, error: str | None = None) -> None:
    now = time.time()
    finished = now if status in FINISHED_STATUSES else None
    db.execute("UPDATE jobs SET status = ?, step = ?, progress = ?, detail = ?, error = ?, updated_at = ?,"
               " finished_at = ? WHERE id = ?",
               (status, step, progress, detail, error, now, finished, job_id))


def claim_job(db, job_id: int) -> bool:
    """Move a waiting job to Downloading; False if it is no longer waiting (cancelled, deleted, claimed).

    One conditional UPDATE: a cancel or delete made between reading the job and claiming it wins.
    """
    cursor = db.execute(
        "UPDATE jobs SET status = 'Downloading', step = 'download', progress = 0, detail = 'starting', error = NULL,"
        " finished_at = NULL, updated_at = ? WHERE id = ? AND status IN (?, ?)",
        (time.time(), job_id, *WAITING_STATUSES))
    return cursor.rowcount == 1


def cancel_waiting_job(db, job_id: int) -> bool:
    """Cancel a job that has not started; False if it is running or finished (or gone)."""
    now = time.time()
    cursor = db.execute(
        "UPDATE jobs SET status = 'Cancelled', step = 'cancelled', progress = 0, detail = 'Cancelled by the user.',"
        " updated_at = ?, finished_at = ? WHERE id = ? AND status IN (?, ?)",
        (now, now, job_id, *WAITING_STATUSES))
    return cursor.rowcount == 1


def requeue_job(db, job_id: int) -> bool:
    """Queue a failed or cancelled job again; False if it is in any other state."""
    cursor = db.execute(
        "UPDATE jobs SET status = 'Queued', step = 'queued', progress = 0, detail = NULL, error = NULL,"
        " updated_at = ?, finished_at = NULL WHERE id = ? AND status IN ('Error', 'Cancelled')",
        (time.time(), job_id))
    return cursor.rowcount == 1


def fail_job(db, job_id: int, error: str) -> None:
    """Mark a job failed; its step stays, so the person sees which stage failed."""
    now = time.time()
    db.execute("UPDATE jobs SET status = 'Error', detail = NULL, error = ?, updated_at = ?, finished_at = ?"
               " WHERE id = ?", (error, now, now, job_id))


def set_job_progress(db, job_id: int, status: str, step: str, progress: float, detail: str) -> None:
    db.execute("UPDATE jobs SET status = ?, step = ?, progress = ?, detail = ?, updated_at = ? WHERE id = ?",
               (status, step, progress, detail, time.time(), job_id))


def set_job_video(db, job_id: int, video: dict) -> None:
    db.execute("UPDATE jobs SET title = ?, duration = ?, uploader = ?, thumbnail = ?, webpage_url = ?,"
               " video_path = ?, updated_at = ? WHERE id = ?",
               (video["title"], video["duration"], video.get("uploader"), video.get("thumbnail"),
                video.get("webpage_url"), video["path"], time.time(), job_id))


def save_result(db, job_id: int, result) -> None:
    """Store an analysis in one transaction, replacing any earlier one (so retries never duplicate)."""
    with transaction(db):
        for table in ("segments", "speaker_turns", "candidates"):
            db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
        db.executemany(
            "INSERT INTO segments (job_id, position, start, end, speaker, text, kind, sentiment) VALUES (?,?,?,?,?,?,?,?)",
            [(job_id, i, s.start, s.end, s.speaker, s.text, s.kind, s.sentiment) for i, s in enumerate(result.segments)])
        db.executemany("INSERT INTO speaker_turns (job_id, start, end, speaker) VALUES (?,?,?,?)",
                       [(job_id, t.start, t.end, t.speaker) for t in result.turns])
        db.executemany(
            "INSERT INTO candidates (job_id, rank, start, end, score, reasons, text) VALUES (?,?,?,?,?,?,?)",
            [(job_id, i + 1, c.start, c.end, c.score, json.dumps(c.reasons), c.text)
             for i, c in enumerate(result.candidates)])
        _save_speakers(db, job_id, result)
        video = result.video
        db.execute("UPDATE jobs SET title = ?, duration = ?, uploader = ?, thumbnail = ?, webpage_url = ?,"
                   " video_path = ?, language = ?, diarization_backend = ?, diarization_reason = ?, timings = ?"
                   " WHERE id = ?",
                   (video.title, video.duration, video.uploader, video.thumbnail, video.webpage_url, video.path,
                    result.language, result.diarization_backend, result.diarization_reason,
                    json.dumps(result.timings), job_id))
        set_job_status(db, job_id, "Processed", step="done", progress=1.0)


def _save_speakers(db, job_id: int, result) -> None:
    """A new analysis brings new speakers: names given to the old ones are suggested again by voice."""
    db.execute("DELETE FROM speakers WHERE job_id = ?", (job_id,))
    seconds: dict[str, float] = {}
    for turn in result.turns:
        seconds[turn.speaker] = seconds.get(turn.speaker, 0.0) + turn.end - turn.start
    for segment in result.segments:
        seconds.setdefault(segment.speaker, 0.0)
    db.executemany(
        "INSERT INTO speakers (job_id, label, seconds, voiceprint, voiceprint_model) VALUES (?,?,?,?,?)",
        [(job_id, label, round(total, 3), pack_vector(result.voiceprints.get(label)),
          result.voiceprint_model if label in result.voiceprints else None)
         for label, total in sorted(seconds.items())])


def pack_vector(vector) -> bytes | None:
    """A voiceprint as float32 bytes (768 for CAM++'s 192 dimensions)."""
    return None if vector is None else array("f", vector).tobytes()


def unpack_vector(blob: bytes | None) -> list[float] | None:
    if blob is None:
        return None
    vector = array("f")
    vector.frombytes(blob)
    return vector.tolist()


def delete_job(db, job_id: int) -> None:
    db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))


def segments_for(db, job_id: int) -> list[sqlite3.Row]:
    return db.execute("SELECT * FROM segments WHERE job_id = ? ORDER BY position", (job_id,)).fetchall()


def turns_for(db, job_id: int) -> list[sqlite3.Row]:
    return db.execute("SELECT * FROM speaker_turns WHERE job_id = ? ORDER BY start", (job_id,)).fetchall()


def candidates_for(db, job_id: int) -> list[sqlite3.Row]:
    return db.execute("SELECT * FROM candidates WHERE job_id = ? ORDER BY rank", (job_id,)).fetchall()


def get_candidate(db, candidate_id: int) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM candidates WHERE id = ?", (candidate_id,)).fetchone()


def failed_jobs(db, limit: int = 200) -> list[sqlite3.Row]:
    return db.execute(f"{JOB_ROWS} WHERE status = 'Error' ORDER BY finished_at DESC, jobs.id DESC LIMIT ?",
                      (limit,)).fetchall()


# --- groups (a playlist's jobs) ------------------------------------------------

def create_group(db, url: str, title: str, queued: int, video_count: int | None, more: bool,
                 user_id: int | None = None) -> int:
    cursor = db.execute("INSERT INTO job_groups (url, title, queued, video_count, more, user_id, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)", (url, title, queued, video_count, int(more), user_id, time.time()))
    return cursor.lastrowid


GROUP_ROWS = ("SELECT job_groups.*, users.name AS submitted_by FROM job_groups"
              " LEFT JOIN users ON users.id = job_groups.user_id")


def get_group(db, group_id: int) -> sqlite3.Row | None:
    return db.execute(f"{GROUP_ROWS} WHERE job_groups.id = ?", (group_id,)).fetchone()


def groups_by_id(db, group_ids) -> dict[int, sqlite3.Row]:
    ids = list(dict.fromkeys(group_ids))
    rows = db.execute(f"{GROUP_ROWS} WHERE job_groups.id IN ({','.join('?' * len(ids))})", ids).fetchall()
    return {row["id"]: row for row in rows}


def group_jobs(db, group_id: int) -> list[sqlite3.Row]:
    """The group's jobs in playlist order."""
    return db.execute(f"{JOB_ROWS} WHERE jobs.group_id = ? ORDER BY jobs.id", (group_id,)).fetchall()


def group_counts(db, group_ids) -> dict[int, dict[str, int]]:
    """How many of each group's jobs are in each status."""
    ids = list(dict.fromkeys(group_ids))
    counts: dict[int, dict[str, int]] = {group_id: {} for group_id in ids}
    for group_id, status, n in db.execute(
            f"SELECT group_id, status, COUNT(*) FROM jobs WHERE group_id IN ({','.join('?' * len(ids))})"
            " GROUP BY group_id, status", ids):
        counts[group_id][status] = n
    return counts
# --- transcript search --------------------------------------------------------

SEARCH_WINDOW = 10_000  # matches ranked at most (the newest): ranking costs time for every match
_LAST_ID = 2 ** 63 - 1


def search_segments(db, match: str, speaker: str | None = None, job_id: int | None = None, limit: int = 20,
                    offset: int = 0, window: int = SEARCH_WINDOW) -> tuple[list[sqlite3.Row], bool]:
    """Segments matching an FTS5 expression, best first (bm25), each with a snippet whose matching
    words sit between \x02 and \x03; and whether more than `window` matched: then only the newest
    `window` matches were ranked, which bounds the time a common word takes.

    `speaker` is a name as pages show it: a person's (every speaker named so, in any video), or the
    label of a speaker nobody has named. Names are joined at query time, so a rename shows at once.

    The index is read once to rank: the newest matches with their bm25 (only in a job's id range
    when filtering by video: a job's segments are inserted together). The filters are then checked
    in score order, one match at a time, only until the page is full: a common speaker's page takes
    a few dozen lookups, not one per match. The page's snippets are made in one more pass over just
    their id range (a lookup per row would set a prefix's list of words up again for each). Every row
    also says how many matched (at most `window` + 1, the one more only telling that there are more);
    when the filters leave nothing, one row says it and the rest of it is NULL.
    """
    low, high = 0, _LAST_ID
    if job_id is not None:
        low, high = db.execute("SELECT min(id), max(id) FROM segments WHERE job_id = ?", (job_id,)).fetchone()
        if low is None:
            return [], False
    rows = db.execute("""
        WITH newest AS MATERIALIZED (
            SELECT rowid AS id, bm25(segments_fts) AS score FROM segments_fts
            WHERE segments_fts MATCH :match AND rowid BETWEEN :low AND :high
            ORDER BY rowid DESC LIMIT :window + 1),
        named (job_id, label) AS MATERIALIZED (  -- the speakers who are the person called :speaker
            SELECT speakers.job_id, speakers.label FROM people JOIN speakers ON speakers.person_id = people.id
            WHERE people.name = :speaker AND (:job IS NULL OR speakers.job_id = :job)),
        best AS MATERIALIZED (
            -- "ranked" (ORDER BY with a LIMIT, so kept) hands its rows over in score order, and the
            -- LIMIT below stops reading them, and checking the filters, once the page is full.
            SELECT id, score FROM (
                SELECT id, score FROM newest  -- the extra newest row only says that more matched
                WHERE (SELECT count(*) FROM newest) <= :window OR id > (SELECT min(id) FROM newest)
                ORDER BY score, id LIMIT -1) AS ranked
            WHERE (:speaker IS NULL AND :job IS NULL) OR EXISTS (
                SELECT 1 FROM segments WHERE segments.id = ranked.id AND (:job IS NULL OR segments.job_id = :job)
                AND (:speaker IS NULL OR (segments.job_id, segments.speaker) IN named OR (
                    segments.speaker = :speaker AND NOT EXISTS (  -- a label stands for unnamed speakers only
                        SELECT 1 FROM speakers WHERE speakers.job_id = segments.job_id
                        AND speakers.label = segments.speaker AND speakers.person_id IS NOT NULL))))
            LIMIT :limit OFFSET :offset),
        marked AS MATERIALIZED (  -- "+rowid": a filter on the rows read, not one lookup per id
            SELECT rowid AS id, snippet(segments_fts, 0, char(2), char(3), '…', 24) AS snippet FROM segments_fts
            WHERE segments_fts MATCH :match AND rowid BETWEEN (SELECT min(id) FROM best) AND (SELECT max(id) FROM best)
              AND +rowid IN (SELECT id FROM best))
        SELECT ranked.count AS ranked, best.score, segments.id, segments.job_id, segments.start, segments.end,
               segments.speaker, people.name AS speaker_name, segments.text, jobs.title, jobs.duration,
               marked.snippet
        FROM (SELECT count(*) AS count FROM newest) AS ranked LEFT JOIN best ON true
        LEFT JOIN marked ON marked.id = best.id LEFT JOIN segments ON segments.id = best.id
        LEFT JOIN jobs ON jobs.id = segments.job_id
        LEFT JOIN speakers ON speakers.job_id = segments.job_id AND speakers.label = segments.speaker
        LEFT JOIN people ON people.id = speakers.person_id ORDER BY best.score, best.id""",
        {"match": match, "low": low, "high": high, "window": window, "speaker": speaker, "job": job_id,
         "limit": limit, "offset": offset}).fetchall()
    return [row for row in rows if row["id"] is not None], rows[0]["ranked"] > window


def speaker_exists(db, speaker: str, job_id: int | None = None) -> bool:
    """Whether anyone (in the job) is shown as `speaker`: a named person, or an unnamed speaker's label."""
    if job_id is not None:
        return db.execute(
            "SELECT EXISTS (SELECT 1 FROM speakers LEFT JOIN people ON people.id = speakers.person_id"
            " WHERE speakers.job_id = :job AND (people.name = :speaker"
            " OR (speakers.person_id IS NULL AND speakers.label = :speaker)))",
            {"speaker": speaker, "job": job_id}).fetchone()[0] == 1
    # INDEXED BY: the planner would rather read every unnamed speaker through speakers_person.
    return db.execute("""
        SELECT EXISTS (SELECT 1 FROM people WHERE name = :speaker
                       AND EXISTS (SELECT 1 FROM speakers WHERE person_id = people.id))
            OR EXISTS (SELECT 1 FROM speakers INDEXED BY speakers_unnamed WHERE label = :speaker AND person_id IS NULL)
        """, {"speaker": speaker}).fetchone()[0] == 1


def speakers(db, job_id: int | None = None, limit: int = 500) -> list[str]:
    """The names speakers are shown by, A to Z: a job's, or everyone's: people's names and the labels
    nobody has named, those found by hopping along their index from one label to the next (a step
    per label, instead of a row per speaker of every video)."""
    if job_id is not None:
        return [row[0] for row in db.execute(
            "SELECT DISTINCT COALESCE(people.name, speakers.label) AS shown FROM speakers"
            " LEFT JOIN people ON people.id = speakers.person_id WHERE speakers.job_id = ?"
            " ORDER BY shown COLLATE NOCASE LIMIT ?", (job_id, limit))]
    return [row[0] for row in db.execute("""
        WITH RECURSIVE labels (label) AS (
            SELECT min(label) FROM speakers INDEXED BY speakers_unnamed WHERE person_id IS NULL
            UNION ALL
            SELECT (SELECT min(label) FROM speakers INDEXED BY speakers_unnamed
                    WHERE person_id IS NULL AND label > labels.label) FROM labels
            WHERE labels.label IS NOT NULL LIMIT :limit)
        SELECT name FROM (
            SELECT name FROM people WHERE EXISTS (SELECT 1 FROM speakers WHERE person_id = people.id)
            UNION SELECT label FROM labels WHERE label IS NOT NULL)
        ORDER BY name COLLATE NOCASE LIMIT :limit""", {"limit": limit})]


# --- clips ------------------------------------------------------------------

def create_clip(db, job_id: int, start: float, end: float, captions: bool, vertical: bool,
                candidate_id: int | None = None) -> int:
    cursor = db.execute(
        "INSERT INTO clips (job_id, candidate_id, start, end, captions, vertical, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 'Creating', ?)",
        (job_id, candidate_id, start, end, int(captions), int(vertical), time.time()))
    return cursor.lastrowid


def get_clip(db, clip_id: int) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM clips WHERE id = ?", (clip_id,)).fetchone()


def clips_for(db, job_id: int) -> list[sqlite3.Row]:
    return db.execute("SELECT * FROM clips WHERE job_id = ? ORDER BY id DESC", (job_id,)).fetchall()


def unfinished_clip_ids(db) -> list[int]:
    return [row[0] for row in db.execute("SELECT id FROM clips WHERE status = 'Creating' ORDER BY id")]


def finish_clip(db, clip_id: int, filename: str | None, error: str | None = None) -> None:
    db.execute("UPDATE clips SET status = ?, filename = ?, error = ? WHERE id = ?",
               ("Failed" if error else "Created", filename, error, clip_id))


_CLIP_FILTERS = ("(:job IS NULL OR clips.job_id = :job) AND (:status IS NULL OR clips.status = :status)"
                 " AND (:captions IS NULL OR clips.captions = :captions)"
                 " AND (:vertical IS NULL OR clips.vertical = :vertical)")


def list_clips(db, job_id: int | None = None, status: str | None = None, captions: bool | None = None,
               vertical: bool | None = None, limit: int = 50, offset: int = 0) -> list[sqlite3.Row]:
    """Clips of every job, newest first, with their video's title; a filter left None is not applied."""
    return db.execute(
        f"SELECT clips.*, jobs.title AS job_title FROM clips JOIN jobs ON jobs.id = clips.job_id WHERE {_CLIP_FILTERS}"
        " ORDER BY clips.id DESC LIMIT :limit OFFSET :offset",
        {"job": job_id, "status": status, "captions": captions, "vertical": vertical, "limit": limit,
         "offset": offset}).fetchall()


def count_clips(db, job_id: int | None = None, status: str | None = None, captions: bool | None = None,
                vertical: bool | None = None) -> int:
    return db.execute(f"SELECT COUNT(*) FROM clips WHERE {_CLIP_FILTERS}",
                      {"job": job_id, "status": status, "captions": captions, "vertical": vertical}).fetchone()[0]


def jobs_with_clips(db) -> list[sqlite3.Row]:
    """The videos the clips page can be narrowed to, newest first."""
    return db.execute("SELECT id, title, url FROM jobs WHERE id IN (SELECT job_id FROM clips) ORDER BY id DESC").fetchall()


def clips_with_titles(db, clip_ids: list[int]) -> list[sqlite3.Row]:
    return db.execute(
        f"SELECT clips.*, jobs.title AS job_title FROM clips JOIN jobs ON jobs.id = clips.job_id"
        f" WHERE clips.id IN ({','.join('?' * len(clip_ids))})", clip_ids).fetchall()


# --- speakers and people ----------------------------------------------------

def speakers_for(db, job_id: int) -> list[sqlite3.Row]:
    """A job's speakers with the name of the person each is (None while unnamed)."""
    return db.execute(
        "SELECT speakers.*, people.name FROM speakers LEFT JOIN people ON people.id = speakers.person_id"
        " WHERE job_id = ? ORDER BY label", (job_id,)).fetchall()


def get_speaker(db, job_id: int, label: str) -> sqlite3.Row | None:
    return db.execute(
        "SELECT speakers.*, people.name FROM speakers LEFT JOIN people ON people.id = speakers.person_id"
        " WHERE job_id = ? AND label = ?", (job_id, label)).fetchone()


def speaker_names(db, job_id: int) -> dict[str, str]:
    """{label: name} for the job's named speakers."""
    return {row["label"]: row["name"] for row in speakers_for(db, job_id) if row["name"]}


def person_by_name(db, name: str) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM people WHERE name = ?", (name,)).fetchone()


def get_person(db, person_id: int) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM people WHERE id = ?", (person_id,)).fetchone()


def create_person(db, name: str) -> int:
    return db.execute("INSERT INTO people (name, created_at) VALUES (?, ?)", (name, time.time())).lastrowid


def set_speaker_person(db, speaker_id: int, person_id: int | None) -> None:
    db.execute("UPDATE speakers SET person_id = ? WHERE id = ?", (person_id, speaker_id))


def reject_suggestion(db, speaker_id: int, person_id: int) -> None:
    db.execute("INSERT OR IGNORE INTO rejected_suggestions (speaker_id, person_id) VALUES (?, ?)",
               (speaker_id, person_id))


def rejected_people(db, speaker_id: int) -> set[int]:
    return {row[0] for row in db.execute(
        "SELECT person_id FROM rejected_suggestions WHERE speaker_id = ?", (speaker_id,))}


def known_voiceprints(db, model: str, except_job: int) -> list[sqlite3.Row]:
    """Named speakers' voiceprints in one model's space, from other jobs: what suggestions compare with."""
    return db.execute(
        "SELECT speakers.person_id, speakers.voiceprint, people.name FROM speakers"
        " JOIN people ON people.id = speakers.person_id"
        " WHERE speakers.voiceprint_model = ? AND speakers.voiceprint IS NOT NULL AND speakers.job_id != ?",
        (model, except_job)).fetchall()


def list_people(db) -> list[sqlite3.Row]:
    """Every named person with how many videos they speak in and for how long in all."""
    return db.execute(
        "SELECT people.id, people.name, COUNT(DISTINCT speakers.job_id) AS videos,"
        " COALESCE(SUM(speakers.seconds), 0) AS seconds FROM people"
        " LEFT JOIN speakers ON speakers.person_id = people.id GROUP BY people.id ORDER BY people.name").fetchall()


def videos_of_person(db, person_id: int) -> list[sqlite3.Row]:
    return db.execute(
        "SELECT jobs.id, jobs.title, jobs.url, speakers.label, speakers.seconds FROM speakers"
        " JOIN jobs ON jobs.id = speakers.job_id WHERE speakers.person_id = ? ORDER BY jobs.created_at DESC",
        (person_id,)).fetchall()


def rename_person(db, person_id: int, name: str) -> None:
    db.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))


def merge_people(db, source_id: int, target_id: int) -> None:
    """Everything `source` was said to be becomes `target`'s; then `source` is gone."""
    with transaction(db):
        db.execute("UPDATE speakers SET person_id = ? WHERE person_id = ?", (target_id, source_id))
        db.execute("DELETE FROM rejected_suggestions WHERE person_id = ? AND speaker_id IN"
                   " (SELECT speaker_id FROM rejected_suggestions WHERE person_id = ?)", (source_id, target_id))
        db.execute("UPDATE rejected_suggestions SET person_id = ? WHERE person_id = ?", (target_id, source_id))
        db.execute("DELETE FROM people WHERE id = ?", (source_id,))


def delete_unused_people(db) -> None:
    """People no speaker is any more (their last video deleted, or renamed away) are forgotten."""
    db.execute("DELETE FROM people WHERE id NOT IN (SELECT person_id FROM speakers WHERE person_id IS NOT NULL)")


# --- settings changed at run time ------------------------------------------------

def stored_settings(db) -> dict[str, str]:
    return {row["name"]: row["value"] for row in db.execute("SELECT name, value FROM settings")}


def stored_setting_rows(db) -> dict[str, sqlite3.Row]:
    return {row["name"]: row for row in db.execute("SELECT * FROM settings")}


def save_settings(db, changes: dict[str, str | None], changed_by: str, logged: dict[str, tuple]) -> None:
    """Store (or, for None, forget) values and log each change as `logged[name]` = (old, new), in one transaction."""
    now = time.time()
    with transaction(db):
        for name, value in changes.items():
            if value is None:
                db.execute("DELETE FROM settings WHERE name = ?", (name,))
            else:
                db.execute("INSERT INTO settings (name, value, changed_at, changed_by) VALUES (?, ?, ?, ?)"
                           " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                           " changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                           (name, value, now, changed_by))
            old, new = logged[name]
            db.execute("INSERT INTO settings_changes (changed_at, changed_by, name, old_value, new_value)"
                       " VALUES (?, ?, ?, ?, ?)", (now, changed_by, name, old, new))


def settings_changes(db, limit: int = 100) -> list[sqlite3.Row]:
    return db.execute("SELECT * FROM settings_changes ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


# --- accounts -----------------------------------------------------------------

def create_user(db, name: str, password_hash: str, role: str) -> int:
    cursor = db.execute("INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                        (name, password_hash, role, time.time()))
    return cursor.lastrowid


def get_user(db, user_id: int) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()


def user_by_name(db, name: str) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()


def list_users(db) -> list[sqlite3.Row]:
    return db.execute(
        "SELECT users.*, (SELECT COUNT(*) FROM api_tokens WHERE user_id = users.id) AS token_count,"
        " (SELECT COUNT(*) FROM jobs WHERE user_id = users.id) AS job_count FROM users ORDER BY name").fetchall()


def count_users(db, role: str | None = None) -> int:
    if role:
        return db.execute("SELECT COUNT(*) FROM users WHERE role = ?", (role,)).fetchone()[0]
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def set_password_hash(db, user_id: int, password_hash: str) -> None:
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))


def set_role(db, user_id: int, role: str) -> None:
    db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))


def delete_user(db, user_id: int) -> None:
    """Its sessions and tokens go with it; its jobs stay, submitted by no one."""
    db.execute("DELETE FROM users WHERE id = ?", (user_id,))


def create_session(db, user_id: int, id_hash: str) -> None:
    now = time.time()
    db.execute("INSERT INTO sessions (id_hash, user_id, created_at) VALUES (?, ?, ?)", (id_hash, user_id, now))
    db.execute("UPDATE users SET last_sign_in_at = ? WHERE id = ?", (now, user_id))


def session_user(db, id_hash: str, not_before: float) -> sqlite3.Row | None:
    """The user of a session started after `not_before`."""
    return db.execute("SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id"
                      " WHERE sessions.id_hash = ? AND sessions.created_at > ?", (id_hash, not_before)).fetchone()


def delete_session(db, id_hash: str) -> None:
    db.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))


def delete_sessions(db, user_id: int | None = None, before: float | None = None) -> None:
    """A user's sessions (all of them), or everyone's that started before `before`."""
    if user_id is not None:
        db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    else:
        db.execute("DELETE FROM sessions WHERE created_at <= ?", (before,))


def create_token(db, user_id: int, name: str, token_hash: str) -> int:
    cursor = db.execute("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                        (user_id, name, token_hash, time.time()))
    return cursor.lastrowid


def tokens_of(db, user_id: int) -> list[sqlite3.Row]:
    return db.execute("SELECT id, name, created_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY id",
                      (user_id,)).fetchall()


def token_user(db, token_hash: str) -> sqlite3.Row | None:
    """The user a token belongs to; the token is marked used (at most once a minute: a poll is not a write)."""
    user = db.execute("SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
                      " WHERE api_tokens.token_hash = ?", (token_hash,)).fetchone()
    if user is not None:
        now = time.time()
        db.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?"
                   " AND (last_used_at IS NULL OR last_used_at < ?)", (now, token_hash, now - 60))
    return user


def delete_token(db, user_id: int, token_id: int) -> bool:
    """Revoke one of a user's tokens; False if they have no such token."""
    return db.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user_id)).rowcount == 1


def add_sign_in_failure(db, keys: list[str], window: float) -> None:
    now = time.time()
    db.execute("DELETE FROM sign_in_failures WHERE failed_at <= ?", (now - window,))
    db.executemany("INSERT INTO sign_in_failures (key, failed_at) VALUES (?, ?)", [(key, now) for key in keys])


def sign_in_failures(db, key: str, since: float) -> list[float]:
    """When `key` failed to sign in after `since`, oldest first."""
    return [row[0] for row in db.execute(
        "SELECT failed_at FROM sign_in_failures WHERE key = ? AND failed_at > ? ORDER BY failed_at", (key, since))]


def clear_sign_in_failures(db, keys: list[str]) -> None:
    db.executemany("DELETE FROM sign_in_failures WHERE key = ?", [(key,) for key in keys])
