"""The HTML pages through Flask's test client: queue pagination, escaping, the error log, forms."""
from __future__ import annotations

import re

import db
from tests.test_app_api import add_job, add_processed_job, app, client, connect, job_count, make_app  # noqa: F401

ROW = re.compile(r'<tr data-job-id="(\d+)"')


def add_many_jobs(app, count: int) -> list[int]:
    connection = connect(app)
    try:
        with db.transaction(connection):
            return [db.create_job(connection, f"http://example.com/{i}", "720p") for i in range(count)]
    finally:
        connection.close()


def test_home_empty(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No jobs yet" in html and 'name="csrf_token"' in html and "Page 1 of" not in html


def test_home_pagination(app, client):
    ids = add_many_jobs(app, 120)
    newest_first = ids[::-1]
    html = client.get("/").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(html)] == newest_first[:50]
    assert "Page 1 of 3" in html and "?page=2" in html and "Newer" not in html
    html = client.get("/?page=2").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(html)] == newest_first[50:100]
    assert "Page 2 of 3" in html and "?page=1" in html and "?page=3" in html
    html = client.get("/?page=3").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(html)] == newest_first[100:]
    assert "Older" not in html
    for odd in ("/?page=0", "/?page=-3", "/?page=abc"):
        assert [int(i) for i in ROW.findall(client.get(odd).get_data(as_text=True))] == newest_first[:50]
    response = client.get("/?page=99")
    assert response.status_code == 200 and ROW.findall(response.get_data(as_text=True)) == []


def test_details_escapes_title_and_transcript(app, client):
    title = "<script>alert(1)</script>"
    said = '<img src=x onerror="alert(2)"> & more'
    job_id = add_processed_job(app, title=title, texts=["Is this safe?", said])
    response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=" in html and "&amp; more" in html
    assert 'id="segments"' in html and "Is this safe?" in html


def test_details_of_a_processed_job(app, client):
    job_id = add_processed_job(app)
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Garden show" in html and "Processed" in html
    assert f'src="/jobs/{job_id}/video"' in html
    assert f"/jobs/{job_id}/transcript.srt" in html
    assert html.count('class="card mb-2 candidate clip-form"') == 2
    assert "Tomatoes are the best choice" in html
    assert 'class="turn"' in html and "SPEAKER_01" in html


def test_overlapping_speech_shows_on_the_timeline_and_in_the_api(app, client):
    from pipeline.types import SpeakerTurn
    job_id = add_processed_job(app, extra_turns=[SpeakerTurn(4.0, 7.0, "SPEAKER_00")])  # over SPEAKER_01's 6.5-11.5
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert html.count('class="overlap"') == 1 and "SPEAKER_00 and SPEAKER_01 at once" in html
    assert 'id="overlap-legend"' in html
    data = client.get(f"/api/jobs/{job_id}/segments").get_json()
    assert data["overlaps"] == [{"start": 6.5, "end": 7.0, "speakers": ["SPEAKER_00", "SPEAKER_01"]}]
    plain = client.get(f"/jobs/{add_processed_job(app)}").get_data(as_text=True)
    assert 'class="overlap"' not in plain and "overlap-legend" not in plain


def test_details_and_clips_of_a_video_of_unknown_length(app, client):
    """Saved with duration 0 (a file that did not say how long it is): no division by zero, and clips
    are still accepted."""
    job_id = add_processed_job(app, duration=0.0)
    response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "length unknown" in html and 'class="turn"' in html
    response = client.post(f"/api/jobs/{job_id}/clips", json={"start": 2.0, "end": 9.0})
    assert response.status_code == 202 and response.get_json()["end"] == 9.0
    assert client.post(f"/api/jobs/{job_id}/clips", json={"start": -1, "end": 9.0}).status_code == 400


def test_a_failed_job_says_which_stage_failed(app, client):
    job_id = add_job(app, status="Processing")
    connection = connect(app)
    db.set_job_progress(connection, job_id, "Processing", "transcribe", 0.4, "12/30 s")
    db.fail_job(connection, job_id, "The audio could not be read.")
    connection.close()
    for path in ("/", f"/jobs/{job_id}"):
        assert "failed during transcribe" in client.get(path).get_data(as_text=True), path
    assert client.get(f"/api/jobs/{job_id}").get_json()["step"] == "transcribe"


def test_details_of_an_unfinished_job(app, client):
    job_id = add_job(app, status="Queued")
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="not-ready"' in html and "Cancel" in html and 'id="player"' not in html


def test_details_unknown_job_is_404_page(client):
    response = client.get("/jobs/4242")
    assert response.status_code == 404
    assert "There is nothing at this address" in response.get_data(as_text=True)


def test_error_log_lists_failed_jobs(app, client):
    failed = add_job(app, "http://example.com/broken", status="Error", error="Download failed: <b>404</b>")
    add_job(app, "http://example.com/fine", status="Queued")
    add_processed_job(app, url="http://example.com/done")
    response = client.get("/errors")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.findall(r'data-job-id="(\d+)"', html) == [str(failed)]
    assert "Download failed: &lt;b&gt;404&lt;/b&gt;" in html and "<b>404</b>" not in html
    assert "http://example.com/broken" in html and "http://example.com/fine" not in html
    assert 'id="nav-error-count">1<' in html  # the navigation badge counts failures on every page
    assert 'id="nav-error-count">1<' in client.get("/").get_data(as_text=True)


def test_error_log_empty(client):
    html = client.get("/errors").get_data(as_text=True)
    assert 'id="no-errors"' in html and "nav-error-count" not in html


def test_form_submit_queues_and_redirects(app, client):
    response = client.post("/jobs", data={"urls": "http://example.com/a\n\nhttp://example.com/b\n",
                                          "resolution": "360p", "num_speakers": "2"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert "Queued 2 videos." in html and len(ROW.findall(html)) == 2
    connection = connect(app)
    rows = db.list_jobs(connection)
    connection.close()
    assert {(row["url"], row["status"], row["resolution"], row["num_speakers"]) for row in rows} == {
        ("http://example.com/a", "Queued", "360p", 2), ("http://example.com/b", "Queued", "360p", 2)}


def test_form_error_keeps_what_was_typed(app, client):
    response = client.post("/jobs", data={"urls": "http://example.com/a", "num_speakers": "99"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "between 1 and 20" in html and "http://example.com/a</textarea>" in html
    assert job_count(app) == 0


def test_form_retry_cancel_delete(app, client):
    failed = add_job(app, "http://example.com/f", status="Error", error="boom")
    response = client.post(f"/jobs/{failed}/retry", data={"next": "/errors"})
    assert response.status_code == 302 and response.headers["Location"] == "/errors"
    assert f"Job {failed} is queued again." in client.get("/errors").get_data(as_text=True)
    response = client.post(f"/jobs/{failed}/cancel", follow_redirects=True)
    assert f"Job {failed} is being cancelled." in response.get_data(as_text=True)
    response = client.post(f"/jobs/{failed}/cancel", follow_redirects=True)
    assert "only queued or running jobs can be cancelled" in response.get_data(as_text=True)
    response = client.post("/jobs/delete", data={"job_ids": [str(failed)]}, follow_redirects=True)
    assert "Deleted 1 job." in response.get_data(as_text=True)
    assert job_count(app) == 0
    response = client.post("/jobs/delete", data={"job_ids": ["abc"]}, follow_redirects=True)
    assert "Job ids must be numbers." in response.get_data(as_text=True)
    response = client.post("/jobs/delete", data={}, follow_redirects=True)
    assert "Select at least one job" in response.get_data(as_text=True)


def test_form_clip_request(app, client):
    job_id = add_processed_job(app)
    response = client.post(f"/jobs/{job_id}/clips", data={"start": "1", "end": "abc"}, follow_redirects=True)
    assert "End must be a number of seconds." in response.get_data(as_text=True)
    response = client.post(f"/jobs/{job_id}/clips", data={"start": "1", "end": "6", "captions": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/jobs/{job_id}#clips")
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "The clip is being cut" in html and 'id="no-clips"' not in html


def test_pages_refresh_themselves_without_javascript_only_while_jobs_run(app, client):
    refresh = '<noscript><meta http-equiv="refresh"'
    done = add_processed_job(app)
    assert refresh not in client.get("/").get_data(as_text=True)
    assert refresh not in client.get(f"/jobs/{done}").get_data(as_text=True)
    running = add_job(app, url="http://example.com/running", status="Processing")
    assert refresh in client.get("/").get_data(as_text=True)
    assert refresh in client.get(f"/jobs/{running}").get_data(as_text=True)
