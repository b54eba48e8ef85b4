"""The JSON API through Flask's test client: listing, state rules, results and clip requests."""
from __future__ import annotations

from pathlib import Path

import threading
import time

import pytest

import db
from app import create_app
from pipeline.types import AnalysisResult, Candidate, Segment, SpeakerTurn, VideoInfo

JSON = {"Content-Type": "application/json"}


# --- helpers shared with test_app_pages.py and test_app_safety.py ------------------------------

@pytest.fixture
def make_app(tmp_path):
    """create_app on folders under tmp_path; CSRF off unless csrf=True; the worker not started."""
    made = []

    def make(csrf: bool = False, **overrides):
        config = {"DATABASE_PATH": str(tmp_path / "instance" / "videos.db"),
                  "DOWNLOAD_DIR": str(tmp_path / "downloads"),
                  "PROCESSED_CLIPS_DIR": str(tmp_path / "clips"),
                  "ALLOW_PRIVATE_URLS": "1", **overrides}
        app = create_app(config)
        app.config["TESTING"] = True
        app.config["WTF_CSRF_ENABLED"] = csrf
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["worker"].stop()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def connect(app):
    return db.connect(app.config["SETTINGS"].database_path)


def add_job(app, url="http://example.com/video", status=None, error=None, **_) -> int:
    connection = connect(app)
    try:
        job_id = db.create_job(connection, url, "720p")
        if status:
            db.set_job_status(connection, job_id, status, error=error)
        return job_id
    finally:
        connection.close()


def build_result(video_path: str, title="Garden show", texts=None, duration=29.0, extra_turns=()) -> AnalysisResult:
    """A pipeline result as the analysis would produce it: segments, turns and two candidates."""
    texts = texts or ["What is the best plant for a tiny balcony?",
                      "Tomatoes are the best choice, because they grow quickly.",
                      "How much sun do they need?",
                      "At least six hours of direct sunlight."]
    segments, clock = [], 0.5
    for i, text in enumerate(texts):
        segments.append(Segment(start=clock, end=clock + 5.0, speaker=f"SPEAKER_0{i % 2}", text=text,
                                kind="question" if text.endswith("?") else "answer", sentiment=0.2, word_count=6))
        clock += 6.0
    turns = [SpeakerTurn(s.start, s.end, s.speaker) for s in segments] + list(extra_turns)
    candidates = [Candidate(start=0.5, end=11.5, score=80.0, reasons=["question and answer"], first_segment=0,
                            last_segment=1, text=" ".join(texts[:2])),
                  Candidate(start=12.5, end=23.5, score=60.0, reasons=["question and answer"], first_segment=2,
                            last_segment=3, text=" ".join(texts[2:4]))]
    video = VideoInfo(source="http://example.com/video", path=video_path, title=title, duration=duration,
                      uploader="Uploader", webpage_url="http://example.com/video")
    return AnalysisResult(video=video, language="en", words=[], segments=segments, turns=turns,
                          candidates=candidates, diarization_backend="embedded", diarization_reason="test",
                          timings={"download": 0.1, "transcribe": 1.0})


def add_processed_job(app, url="http://example.com/video", **result_args) -> int:
    """A Processed job whose result is stored by db.save_result, with a video file in its folder."""
    settings = app.config["SETTINGS"]
    connection = connect(app)
    try:
        job_id = db.create_job(connection, url, "720p")
        folder = settings.download_dir / str(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        video = folder / "video.mp4"
        video.write_bytes(b"not really a video")
        db.save_result(connection, job_id, build_result(str(video), **result_args))
        return job_id
    finally:
        connection.close()


def job_count(app) -> int:
    connection = connect(app)
    try:
        return db.count_jobs(connection)
    finally:
        connection.close()


# --- listing -----------------------------------------------------------------------------------

def test_list_jobs_paginates_newest_first(app, client):
    ids = [add_job(app, f"http://example.com/{i}") for i in range(7)]
    body = client.get("/api/jobs?limit=3").get_json()
    assert body["total"] == 7 and body["limit"] == 3 and body["offset"] == 0
    assert [job["id"] for job in body["jobs"]] == ids[::-1][:3]
    assert [job["id"] for job in client.get("/api/jobs?limit=3&offset=3").get_json()["jobs"]] == ids[::-1][3:6]
    assert [job["id"] for job in client.get("/api/jobs?limit=3&offset=6").get_json()["jobs"]] == [ids[0]]
    assert client.get("/api/jobs?limit=3&offset=60").get_json()["jobs"] == []
    assert body["counts"] == {"queued": 7, "active": 0}
    job = body["jobs"][0]
    assert job["status"] == "Pending" and job["details_url"] == f"/jobs/{job['id']}"
    assert job["url"] == "http://example.com/6"


def test_list_jobs_clamps_limit_and_filters_status(app, client):
    for i in range(3):
        add_job(app, f"http://example.com/{i}")
    failed = add_job(app, "http://example.com/failed", status="Error", error="boom")
    assert len(client.get("/api/jobs?limit=0").get_json()["jobs"]) == 1
    assert client.get("/api/jobs?limit=100000").get_json()["limit"] == 200
    assert client.get("/api/jobs?limit=abc&offset=-4").get_json()["offset"] == 0
    body = client.get("/api/jobs?status=Error").get_json()
    assert body["total"] == 1 and [job["id"] for job in body["jobs"]] == [failed]
    assert body["jobs"][0]["error"] == "boom"


def test_empty_list(client):
    body = client.get("/api/jobs").get_json()
    assert body["jobs"] == [] and body["total"] == 0


def test_unknown_job_is_404_json(client):
    for path in ("/api/jobs/999", "/api/jobs/999/segments", "/api/jobs/999/candidates", "/api/jobs/999/clips"):
        response = client.get(path)
        assert response.status_code == 404 and response.is_json, path
        assert "999" in response.get_json()["error"]
    for method, path in (("post", "/api/jobs/999/retry"), ("post", "/api/jobs/999/cancel"),
                         ("delete", "/api/jobs/999"), ("post", "/api/jobs/999/clips")):
        response = getattr(client, method)(path, json={})
        assert response.status_code == 404 and "no job 999" in response.get_json()["error"], path
    response = client.get("/api/clips/999")
    assert response.status_code == 404 and response.get_json() == {"error": "Not found."}
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.is_json


def test_create_job_queues_it(app, client):
    response = client.post("/api/jobs", json={"url": "http://example.com/a", "resolution": "480p",
                                              "num_speakers": 2})
    assert response.status_code == 201
    [job] = response.get_json()["jobs"]
    assert (job["status"], job["resolution"], job["num_speakers"]) == ("Queued", "480p", 2)
    assert app.extensions["worker"].jobs.get_nowait() == job["id"]
    response = client.post("/api/jobs", json={"urls": ["http://example.com/b", "http://example.com/c",
                                                       "http://example.com/b"]})
    assert response.status_code == 201 and len(response.get_json()["jobs"]) == 2  # the repeat is folded
    assert job_count(app) == 3


@pytest.mark.parametrize("body, message", [
    ({}, "Paste at least one video URL"),
    ({"urls": "http://example.com/a"}, "must be a list"),
    ({"url": "http://example.com/a", "resolution": "8k"}, "Resolution"),
    ({"url": "http://example.com/a", "num_speakers": "two"}, "whole number"),
    ({"url": "http://example.com/a", "num_speakers": 50}, "between 1 and 20"),
    ({"url": "http://example.com/a", "min_speakers": 4, "max_speakers": 2}, "Minimum speakers"),
    ({"urls": [f"http://example.com/{i}" for i in range(51)]}, "At most 50"),
])
def test_create_job_refuses_bad_input(app, client, body, message):
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert job_count(app) == 0


def test_create_job_needs_a_json_object(app, client):
    response = client.post("/api/jobs", data="[1, 2]", headers=JSON)
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]
    response = client.post("/api/jobs", data="{not json", headers=JSON)
    assert response.status_code == 400
    assert job_count(app) == 0


# --- state rules -------------------------------------------------------------------------------

def test_retry_rules(app, client):
    processed = add_processed_job(app)
    queued = add_job(app, "http://example.com/q", status="Queued")
    failed = add_job(app, "http://example.com/f", status="Error", error="boom")
    cancelled = add_job(app, "http://example.com/c", status="Cancelled")
    for job_id, status in ((processed, "Processed"), (queued, "Queued")):
        response = client.post(f"/api/jobs/{job_id}/retry", json={})
        assert response.status_code == 409 and status in response.get_json()["error"]
    for job_id in (failed, cancelled):
        response = client.post(f"/api/jobs/{job_id}/retry", json={})
        assert response.status_code == 200
        body = response.get_json()
        assert body["status"] == "Queued" and body["error"] is None
    worker = app.extensions["worker"]
    assert [worker.jobs.get_nowait(), worker.jobs.get_nowait()] == [failed, cancelled]


def test_cancel_rules(app, client):
    processed = add_processed_job(app)
    failed = add_job(app, "http://example.com/f", status="Error", error="boom")
    waiting = add_job(app, "http://example.com/w", status="Queued")
    for job_id in (processed, failed):
        response = client.post(f"/api/jobs/{job_id}/cancel", json={})
        assert response.status_code == 409 and "only queued or running" in response.get_json()["error"]
    response = client.post(f"/api/jobs/{waiting}/cancel", json={})
    assert response.status_code == 202 and response.get_json()["status"] == "Cancelled"
    response = client.post(f"/api/jobs/{waiting}/cancel", json={})  # cancelling twice
    assert response.status_code == 409


def test_delete_job(app, client):
    job_id = add_processed_job(app)
    folder = app.config["SETTINGS"].download_dir / str(job_id)
    assert folder.is_dir()
    assert client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert client.get(f"/api/jobs/{job_id}").status_code == 404
    assert not folder.exists()
    assert client.delete(f"/api/jobs/{job_id}").status_code == 404


# --- results -----------------------------------------------------------------------------------

def test_segments_candidates_and_details(app, client):
    job_id = add_processed_job(app)
    job = client.get(f"/api/jobs/{job_id}").get_json()
    assert (job["status"], job["title"], job["duration"], job["language"]) == ("Processed", "Garden show", 29.0, "en")
    assert job["timings"] == {"download": 0.1, "transcribe": 1.0} and job["diarization_backend"] == "embedded"
    body = client.get(f"/api/jobs/{job_id}/segments").get_json()
    assert [s["position"] for s in body["segments"]] == [0, 1, 2, 3]
    assert body["segments"][0]["text"] == "What is the best plant for a tiny balcony?"
    assert body["segments"][0]["kind"] == "question" and body["segments"][1]["speaker"] == "SPEAKER_01"
    assert len(body["turns"]) == 4 and set(body["turns"][0]) == {"start", "end", "speaker", "speaker_name"}
    candidates = client.get(f"/api/jobs/{job_id}/candidates").get_json()["candidates"]
    assert [c["rank"] for c in candidates] == [1, 2]
    assert candidates[0]["reasons"] == ["question and answer"] and candidates[0]["score"] == 80.0
    assert client.get(f"/api/jobs/{job_id}/clips").get_json() == {"clips": []}


def test_clip_from_candidate_and_range(app, client):
    job_id = add_processed_job(app)
    candidate = client.get(f"/api/jobs/{job_id}/candidates").get_json()["candidates"][1]
    response = client.post(f"/api/jobs/{job_id}/clips", json={"candidate_id": candidate["id"], "captions": True})
    assert response.status_code == 202
    clip = response.get_json()
    assert (clip["status"], clip["start"], clip["end"]) == ("Creating", 12.5, 23.5)
    assert clip["candidate_id"] == candidate["id"] and clip["captions"] is True and clip["url"] is None
    response = client.post(f"/api/jobs/{job_id}/clips", json={"start": "2.5", "end": 7, "vertical": "1"})
    assert response.status_code == 202
    custom = response.get_json()
    assert (custom["start"], custom["end"], custom["vertical"], custom["candidate_id"]) == (2.5, 7.0, True, None)
    # An end a hair past the end of the video is held to the video's length.
    response = client.post(f"/api/jobs/{job_id}/clips", json={"start": 20, "end": 29.04})
    assert response.status_code == 202 and response.get_json()["end"] == 29.0
    listed = client.get(f"/api/jobs/{job_id}/clips").get_json()["clips"]
    assert {c["id"] for c in listed} == {clip["id"], custom["id"], response.get_json()["id"]}
    assert client.get(f"/api/clips/{clip['id']}").get_json()["status"] == "Creating"
    queued = app.extensions["worker"].clips
    assert [queued.get_nowait() for _ in range(3)] == [clip["id"], custom["id"], response.get_json()["id"]]


@pytest.mark.parametrize("body, status, message", [
    ({"start": -1, "end": 5}, 400, "within the video"),
    ({"start": 10, "end": 40}, 400, "within the video"),
    ({"start": 5, "end": 5.2}, 400, "half a second"),
    ({"start": 8, "end": 3}, 400, "half a second"),
    ({"start": "abc", "end": 5}, 400, "Start must be a number"),
    ({"start": 1, "end": "ten"}, 400, "End must be a number"),
    ({"start": 1}, 400, "End must be a number"),
    ({"start": "nan", "end": 5}, 400, "Start must be a number"),
    ({"start": "1", "end": "inf"}, 400, "End must be a number"),
    ({"start": [1], "end": 5}, 400, "Start must be a number"),
    ({"candidate_id": "x"}, 400, "candidate_id"),
    ({"candidate_id": 99999}, 404, "does not belong"),
])
def test_clip_validation(app, client, body, status, message):
    job_id = add_processed_job(app)
    response = client.post(f"/api/jobs/{job_id}/clips", json=body)
    assert response.status_code == status, response.get_json()
    assert message in response.get_json()["error"]
    assert client.get(f"/api/jobs/{job_id}/clips").get_json() == {"clips": []}


def test_clip_too_long(make_app):
    app = make_app(CLIP_MIN_SECONDS="1", CLIP_MAX_SECONDS="2")  # custom clips: at most 10 x 2 s
    client = app.test_client()
    job_id = add_processed_job(app)
    response = client.post(f"/api/jobs/{job_id}/clips", json={"start": 0, "end": 25})
    assert response.status_code == 400 and "at most 20 s" in response.get_json()["error"]
    assert client.post(f"/api/jobs/{job_id}/clips", json={"start": 0, "end": 20}).status_code == 202


def test_clip_from_another_jobs_candidate(app, client):
    mine = add_processed_job(app, url="http://example.com/mine")
    other = add_processed_job(app, url="http://example.com/other")
    foreign = client.get(f"/api/jobs/{other}/candidates").get_json()["candidates"][0]
    response = client.post(f"/api/jobs/{mine}/clips", json={"candidate_id": foreign["id"]})
    assert response.status_code == 404 and "does not belong" in response.get_json()["error"]
    assert client.get(f"/api/jobs/{mine}/clips").get_json() == {"clips": []}


def test_clip_needs_a_processed_job(app, client):
    job_id = add_job(app, status="Processing")
    response = client.post(f"/api/jobs/{job_id}/clips", json={"start": 0, "end": 5})
    assert response.status_code == 409 and "Processed" in response.get_json()["error"]


def test_clip_file_served_once_created(app, client):
    job_id = add_processed_job(app)
    clip_id = client.post(f"/api/jobs/{job_id}/clips", json={"start": 1, "end": 4}).get_json()["id"]
    assert client.get(f"/clips/{clip_id}.mp4").status_code == 404  # still being cut
    settings = app.config["SETTINGS"]
    folder = settings.processed_clips_dir / str(job_id)
    folder.mkdir(parents=True)
    (folder / f"clip-{clip_id}.mp4").write_bytes(b"mp4 bytes")
    connection = connect(app)
    db.finish_clip(connection, clip_id, f"clip-{clip_id}.mp4")
    connection.close()
    clip = client.get(f"/api/clips/{clip_id}").get_json()
    assert clip["status"] == "Created" and clip["url"] == f"/clips/{clip_id}.mp4"
    response = client.get(clip["url"])
    assert response.status_code == 200 and response.data == b"mp4 bytes" and response.mimetype == "video/mp4"
    response = client.get(clip["download_url"])
    assert "attachment" in response.headers["Content-Disposition"]


def test_video_and_transcript_files(app, client):
    job_id = add_processed_job(app)
    assert client.get(f"/jobs/{job_id}/video").data == b"not really a video"
    assert client.get(f"/jobs/{job_id}/transcript.json").status_code == 404  # not written yet
    response = client.get(f"/jobs/{job_id}/transcript.srt")  # made from the stored segments, with names
    assert response.status_code == 200 and b"[SPEAKER_00] What is the best plant" in response.data
    assert f"job-{job_id}-transcript.srt" in response.headers["Content-Disposition"]
    assert client.get(f"/jobs/{job_id}/transcript.exe").status_code == 404



# --- the list cache ----------------------------------------------------------------------------

def test_lists_show_changes_made_elsewhere_at_once(app, client):
    """Lists are reused while no job changes; a change by any connection shows on the next request."""
    job_id = add_job(app, "http://example.com/a", status="Queued")
    assert client.get("/api/jobs").get_json()["jobs"][0]["status"] == "Queued"
    assert 'data-field="status">Queued<' in client.get("/").get_data(as_text=True)
    connection = connect(app)  # as the worker thread (or another process) would
    db.set_job_progress(connection, job_id, "Processing", "transcribe", 0.4, "12/30 s")
    connection.close()
    body = client.get("/api/jobs").get_json()
    assert (body["jobs"][0]["status"], body["jobs"][0]["progress"]) == ("Processing", 0.4)
    assert body["counts"] == {"queued": 0, "active": 1}
    html = client.get("/").get_data(as_text=True)
    assert 'data-field="status">Processing<' in html and "12/30 s" in html
    second = add_job(app, "http://example.com/b")
    assert [job["id"] for job in client.get("/api/jobs").get_json()["jobs"]] == [second, job_id]
    connection = connect(app)
    db.delete_job(connection, second)
    connection.close()
    assert [job["id"] for job in client.get("/api/jobs").get_json()["jobs"]] == [job_id]
    assert f'data-job-id="{second}"' not in client.get("/").get_data(as_text=True)


def test_list_cache_makes_a_missing_entry_once():
    from views.cache import ListCache
    cache, calls, results = ListCache(size=2), [], []

    def make():
        calls.append(1)
        time.sleep(0.2)
        return "value"

    threads = [threading.Thread(target=lambda: results.append(cache.get("key", make))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["value"] * 8 and len(calls) == 1
    cache.get("b", lambda: "b")
    cache.get("c", lambda: "c")  # the oldest entry goes
    assert cache.get("key", lambda: "again") == "again"


def test_a_thread_keeps_its_connection_and_a_failed_request_leaves_no_transaction_behind(app):
    seen = []

    @app.get("/test/connection")
    def connection_id():
        seen.append(db.get_db())
        return ""

    @app.get("/test/fail-in-a-transaction")
    def fail_in_a_transaction():
        connection = db.get_db()
        connection.execute("BEGIN IMMEDIATE")
        db.create_job(connection, "https://example.com/half-written", "720p")
        raise RuntimeError("the request failed half way")

    client = app.test_client()
    client.get("/test/connection")
    with pytest.raises(RuntimeError):
        client.get("/test/fail-in-a-transaction")
    client.get("/test/connection")
    assert seen[0] is seen[1] and not seen[1].in_transaction
    other = connect(app)
    assert db.count_jobs(other) == 0
    db.create_job(other, "https://example.com/next", "720p")  # no write lock left held
    other.close()
