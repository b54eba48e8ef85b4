"""What the app refuses: other host names, forged forms, non-JSON API posts, unsafe URLs, duplicates,
path tricks; and the security headers every response carries."""
from __future__ import annotations

import http.client
import json
import re

import pytest

import db
import jobs
from tests.conftest import AppServer
from tests.test_app_api import add_job, add_processed_job, connect, job_count, make_app  # noqa: F401

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


# --- host names (DNS rebinding) and security headers ------------------------------------------------

ATTACKER = "http://attacker.example:5001"


def test_dns_rebinding_request_is_refused_before_anything_runs(make_app):
    """attacker.example resolved to 127.0.0.1: same origin for the browser, but its Host names the attacker."""
    app = make_app()
    job_id = add_processed_job(app)
    (app.config["SETTINGS"].download_dir / str(job_id) / "transcript.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nTomatoes\n")
    client = app.test_client()
    response = client.delete(f"/api/jobs/{job_id}", base_url=ATTACKER, headers={"Origin": ATTACKER})
    assert response.status_code == 400
    assert response.get_json() == {"error": "This app does not answer to the name 'attacker.example'; "
                                            "add it to ALLOWED_HOSTS to use it."}
    assert client.post("/api/jobs", json={"url": "http://example.com/x"}, base_url=ATTACKER,
                       headers={"Origin": ATTACKER}).status_code == 400
    for path in ("/", f"/jobs/{job_id}", f"/api/jobs/{job_id}/segments", f"/jobs/{job_id}/transcript.srt",
                 f"/jobs/{job_id}/video", "/events", "/static/app.js", "/no-such-page"):
        response = client.get(path, base_url=ATTACKER)
        assert response.status_code == 400, path
        assert b"Tomatoes" not in response.data and b"ALLOWED_HOSTS" in response.data, path
        assert response.mimetype == ("application/json" if path.startswith("/api/") else "text/plain"), path
    assert job_count(app) == 1
    # the same requests under the app's own names go through
    for base_url in ("http://localhost:5001", "http://127.0.0.1:5001", "http://[::1]:5001", "http://LOCALHOST"):
        client = app.test_client()
        assert client.get(f"/jobs/{job_id}/transcript.srt", base_url=base_url).status_code == 200, base_url
        assert client.get(f"/api/jobs/{job_id}", base_url=base_url).status_code == 200, base_url


def test_dns_rebinding_is_refused_under_the_real_server(make_app):
    """As the attack arrives: raw HTTP to 127.0.0.1 with the attacker's Host and Origin."""
    app = make_app(EVENTS_KEEPALIVE_SECONDS="0.5")
    job_id = add_job(app, status="Error", error="boom")
    server = AppServer(app)
    try:
        def request(method: str, path: str, host: str) -> tuple[int, bytes]:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                connection.request(method, path, headers={"Host": host, "Origin": f"http://{host}"})
                response = connection.getresponse()
                return response.status, response.read()
            finally:
                connection.close()

        status, body = request("DELETE", f"/api/jobs/{job_id}", f"attacker.example:{server.port}")
        assert status == 400 and "ALLOWED_HOSTS" in json.loads(body)["error"]
        assert request("GET", "/events", f"attacker.example:{server.port}")[0] == 400
        assert request("GET", "/", "attacker.example")[0] == 400
        assert job_count(app) == 1
        assert request("GET", f"/api/jobs/{job_id}", f"127.0.0.1:{server.port}")[0] == 200
        assert request("DELETE", f"/api/jobs/{job_id}", f"localhost:{server.port}")[0] == 204
        assert job_count(app) == 0
    finally:
        server.stop()


def test_allowed_hosts_setting_replaces_the_default_names(make_app):
    app = make_app(ALLOWED_HOSTS="clipper.lan, 192.168.1.20")
    client = app.test_client()
    assert client.get("/api/jobs", base_url="http://clipper.lan:8080").status_code == 200
    assert client.get("/api/jobs", base_url="http://192.168.1.20").status_code == 200
    assert client.get("/api/jobs", base_url="http://localhost:5001").status_code == 400
    # By default the listening address is allowed too (sign-in off: this test is about the Host check).
    listening = make_app(HOST="192.168.1.20", AUTH="off")
    assert listening.test_client().get("/api/jobs", base_url="http://192.168.1.20:5001").status_code == 200


def test_every_response_carries_the_security_headers(make_app):
    app = make_app()
    job_id = add_processed_job(app)
    client = app.test_client()
    responses = {path: client.get(path) for path in ("/", f"/jobs/{job_id}", "/errors", "/api/jobs", "/static/app.js",
                                                     "/static/live-worker.js", "/no-such-page")}
    responses["refused host"] = client.get("/", base_url=ATTACKER)
    for name, response in responses.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "same-origin", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin", name
        policy = dict(directive.strip().split(" ", 1) for directive in headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'", name
        assert policy["style-src-elem"] == "'self'" and policy["frame-ancestors"] == "'none'", name


def test_pages_have_no_inline_script(make_app):
    """The policy allows scripts from /static only: an inline one would not run."""
    app = make_app()
    job_id = add_processed_job(app)
    client = app.test_client()
    for path in ("/", f"/jobs/{job_id}", "/errors", "/no-such-page"):
        html = client.get(path).get_data(as_text=True)
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], path
        assert re.findall(r"\son[a-z]+=|javascript:|<style", html, re.I) == [], path


# --- CSRF and the JSON content type --------------------------------------------------------------

def test_form_post_without_csrf_token_is_refused(make_app):
    app = make_app(csrf=True)
    client = app.test_client()
    response = client.post("/jobs", data={"urls": "http://example.com/a"})
    assert response.status_code == 400
    assert "did not come from this app" in response.get_data(as_text=True)
    response = client.post("/jobs", data={"urls": "http://example.com/a", "csrf_token": "forged"})
    assert response.status_code == 400
    assert job_count(app) == 0
    # The same form with the page's token goes through: the refusal is about the token only.
    token = CSRF_META.search(client.get("/").get_data(as_text=True)).group(1)
    response = client.post("/jobs", data={"urls": "http://example.com/a", "csrf_token": token})
    assert response.status_code == 302 and job_count(app) == 1


def test_other_forms_need_the_token_too(make_app):
    app = make_app(csrf=True)
    client = app.test_client()
    failed = add_job(app, "http://example.com/f", status="Error", error="boom")
    for path, data in (("/jobs/delete", {"job_ids": str(failed)}), (f"/jobs/{failed}/retry", {}),
                       (f"/jobs/{failed}/cancel", {})):
        assert client.post(path, data=data).status_code == 400, path
    connection = connect(app)
    assert db.get_job(connection, failed)["status"] == "Error"  # untouched
    connection.close()
    job_id = add_processed_job(app, url="http://example.com/p")
    assert client.post(f"/jobs/{job_id}/clips", data={"start": "1", "end": "5"}).status_code == 400
    assert client.get(f"/api/jobs/{job_id}/clips").get_json() == {"clips": []}


def test_csrf_refusal_as_json_for_api_clients(make_app):
    app = make_app(csrf=True)
    response = app.test_client().post("/jobs", data={"urls": "http://example.com/a"},
                                      headers={"Accept": "application/json"})
    assert response.status_code == 400 and "error" in response.get_json()


@pytest.mark.parametrize("kwargs", [
    {"data": '{"url": "http://example.com/a"}', "content_type": "text/plain"},
    {"data": {"url": "http://example.com/a"}},  # a form post, as another site could send
    {"data": '{"url": "http://example.com/a"}'},
])
def test_api_post_without_json_type_is_415(make_app, kwargs):
    app = make_app(csrf=True)
    client = app.test_client()
    response = client.post("/api/jobs", **kwargs)
    assert response.status_code == 415 and "application/json" in response.get_json()["error"]
    assert job_count(app) == 0
    job_id = add_processed_job(app)
    assert client.post(f"/api/jobs/{job_id}/clips", data='{"start": 1, "end": 5}',
                       content_type="text/plain").status_code == 415
    assert client.get(f"/api/jobs/{job_id}/clips").get_json() == {"clips": []}
    # With the JSON type the API needs no form token (cross-site pages cannot send it without CORS).
    assert client.post("/api/jobs", json={"url": "http://example.com/b"}).status_code == 201


# --- URLs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/video.mp4", "javascript:alert(1)",
                                 "data:text/html,hi", "/etc/passwd", "example.com/video"])
def test_only_http_and_https(make_app, url):
    app = make_app(ALLOW_PRIVATE_URLS="1")  # the scheme rule holds even when private addresses are allowed
    response = app.test_client().post("/api/jobs", json={"url": url})
    assert response.status_code == 400
    assert "only http:// and https:// URLs are accepted" in response.get_json()["error"]
    assert job_count(app) == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/video.mp4", "http://10.0.0.1/v", "http://192.168.1.1/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/v.mp4",
                                 "http://localhost/v.mp4", "https://localhost:8443/x", "http://0.0.0.0/v",
                                 "http://172.16.5.4/v", "http://[fe80::1]/v"])
def test_private_addresses_refused_by_default(make_app, url):
    app = make_app(ALLOW_PRIVATE_URLS="0")
    client = app.test_client()
    response = client.post("/api/jobs", json={"url": url})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "private or local address" in error and "ALLOW_PRIVATE_URLS=1" in error
    response = client.post("/jobs", data={"urls": url})
    assert response.status_code == 400 and "private or local address" in response.get_data(as_text=True)
    assert job_count(app) == 0


def test_shared_address_space_is_refused_too(make_app):
    """100.64.0.0/10 (carrier-grade NAT) is not "private" to Python's ipaddress, but it is not public."""
    app = make_app(ALLOW_PRIVATE_URLS="0")
    response = app.test_client().post("/api/jobs", json={"url": "http://100.64.12.34/video.mp4"})
    assert response.status_code == 400 and "private or local address" in response.get_json()["error"]
    assert job_count(app) == 0


def test_a_host_that_does_not_resolve_is_refused_with_a_reason(make_app):
    app = make_app(ALLOW_PRIVATE_URLS="0")
    response = app.test_client().post("/api/jobs", json={"url": "http://no-such-host.invalid/video.mp4"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "no-such-host.invalid" in error and "was not found" in error and "DNS" in error
    assert job_count(app) == 0


def test_allowed_networks_may_be_fetched_from(make_app):
    app = make_app(ALLOW_PRIVATE_URLS="0", ALLOWED_NETWORKS="127.0.0.2/32")
    client = app.test_client()
    assert client.post("/api/jobs", json={"url": "http://127.0.0.2:8000/v.mp4"}).status_code == 201
    assert client.post("/api/jobs", json={"url": "http://127.0.0.1:8000/v.mp4"}).status_code == 400


def test_one_bad_url_queues_none(make_app):
    app = make_app(ALLOW_PRIVATE_URLS="0")
    response = app.test_client().post("/api/jobs", json={"urls": ["http://93.184.216.34/v",
                                                                  "http://127.0.0.1/v"]})
    assert response.status_code == 400 and job_count(app) == 0


def test_check_url_allows_private_when_configured():
    assert jobs.check_url("http://127.0.0.1:5000/v.mp4", allow_private=True) == "http://127.0.0.1:5000/v.mp4"
    assert jobs.check_url("http://93.184.216.34/v.mp4", allow_private=False) == "http://93.184.216.34/v.mp4"
    with pytest.raises(jobs.UserError):
        jobs.check_url("http://exa mple.com/v", allow_private=True)


# --- duplicates -----------------------------------------------------------------------------------

def test_duplicate_of_unfinished_job_is_409(make_app):
    app = make_app()
    client = app.test_client()
    first = client.post("/api/jobs", json={"url": "http://example.com/a"}).get_json()["jobs"][0]
    response = client.post("/api/jobs", json={"url": "http://example.com/a"})
    assert response.status_code == 409
    assert f"already in the queue (job {first['id']}" in response.get_json()["error"]
    response = client.post("/jobs", data={"urls": "http://example.com/a"})
    assert response.status_code == 409 and "already in the queue" in response.get_data(as_text=True)
    assert job_count(app) == 1
    worker = app.extensions["worker"]
    assert worker.jobs.qsize() == 1  # queued once
    # Once the job has finished, the same URL may be analysed again.
    connection = connect(app)
    db.set_job_status(connection, first["id"], "Error", error="boom")
    connection.close()
    assert client.post("/api/jobs", json={"url": "http://example.com/a"}).status_code == 201


# --- paths ------------------------------------------------------------------------------------------

@pytest.fixture
def files_app(make_app, tmp_path):
    """A processed job with files, a clip, and secrets beside and outside the configured folders."""
    app = make_app()
    settings = app.config["SETTINGS"]
    job_id = add_processed_job(app)
    folder = settings.download_dir / str(job_id)
    (folder / "transcript.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHi\n")
    (tmp_path / "secret.txt").write_text("top secret")
    (settings.download_dir / "secret.txt").write_text("top secret")
    (settings.processed_clips_dir / "secret.mp4").parent.mkdir(parents=True, exist_ok=True)
    (settings.processed_clips_dir / "secret.mp4").write_text("top secret")
    connection = connect(app)
    clip_id = db.create_clip(connection, job_id, 1.0, 4.0, False, False)
    (settings.processed_clips_dir / str(job_id)).mkdir(parents=True, exist_ok=True)
    (settings.processed_clips_dir / str(job_id) / f"clip-{clip_id}.mp4").write_bytes(b"clip")
    db.finish_clip(connection, clip_id, f"clip-{clip_id}.mp4")
    connection.close()
    return app, job_id, clip_id


@pytest.mark.parametrize("path", [
    "/jobs/{job}/transcript..%2fsecret.txt",
    "/jobs/{job}/transcript..%2f..%2fsecret.txt",
    "/jobs/{job}/transcript.srt%2f..%2f..%2fsecret.txt",
    "/jobs/{job}/transcript.%2e%2e%2f%2e%2e%2fsecret.txt",
    "/jobs/{job}/transcript.srt/../../secret.txt",
    "/jobs/{job}/..%2f..%2fsecret.txt",
    "/jobs/{job}/video%2f..%2f..%2fsecret.txt",
    "/jobs/..%2fsecret.txt/video",
    "/clips/..%2fsecret.mp4",
    "/clips/{clip}.mp4%2f..%2f..%2fsecret.mp4",
    "/clips/..%2f..%2fsecret.txt",
    "/static/..%2f..%2f..%2fsecret.txt",
    "/static/..%2fconfig.py",
])
def test_file_routes_cannot_escape(files_app, path):
    app, job_id, clip_id = files_app
    response = app.test_client().get(path.format(job=job_id, clip=clip_id))
    assert response.status_code in (404, 400, 308), response.status_code
    assert b"top secret" not in response.data and b"ROOT" not in response.data


def test_file_routes_serve_their_own_files(files_app):
    app, job_id, clip_id = files_app
    client = app.test_client()
    assert client.get(f"/jobs/{job_id}/transcript.srt").status_code == 200
    assert client.get(f"/clips/{clip_id}.mp4").data == b"clip"


def test_stored_names_cannot_point_outside(files_app, tmp_path):
    """Even a tampered row (a clip filename or video path leading out) serves nothing outside."""
    app, job_id, clip_id = files_app
    connection = connect(app)
    connection.execute("UPDATE clips SET filename = ? WHERE id = ?", ("../../secret.txt", clip_id))
    connection.execute("UPDATE jobs SET video_path = ? WHERE id = ?", (str(tmp_path / "secret.txt"), job_id))
    connection.close()
    client = app.test_client()
    for path in (f"/clips/{clip_id}.mp4", f"/jobs/{job_id}/video"):
        response = client.get(path)
        assert response.status_code == 404 and b"top secret" not in response.data, path


def test_delete_never_touches_files_outside(files_app, tmp_path):
    app, job_id, clip_id = files_app
    settings = app.config["SETTINGS"]
    beside = tmp_path / "downloads-sentinel.txt"  # next to the downloads folder
    beside.write_text("keep")
    sibling = tmp_path / "sibling" / str(job_id)  # a folder named like the job, elsewhere
    sibling.mkdir(parents=True)
    (sibling / "keep.txt").write_text("keep")
    inside_other = settings.download_dir / str(job_id + 1)  # another job's folder
    inside_other.mkdir()
    (inside_other / "keep.txt").write_text("keep")
    assert app.test_client().delete(f"/api/jobs/{job_id}").status_code == 204
    assert not (settings.download_dir / str(job_id)).exists()
    assert not (settings.processed_clips_dir / str(job_id)).exists()
    assert beside.read_text() == "keep" and (sibling / "keep.txt").read_text() == "keep"
    assert (inside_other / "keep.txt").read_text() == "keep"
    assert (tmp_path / "secret.txt").exists() and (settings.download_dir / "secret.txt").exists()
    assert (settings.processed_clips_dir / "secret.mp4").exists()


def test_delete_does_not_follow_a_symlinked_job_folder(make_app, tmp_path):
    app = make_app()
    settings = app.config["SETTINGS"]
    job_id = add_job(app, "http://example.com/linked", status="Error", error="boom")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (settings.download_dir / str(job_id)).symlink_to(outside, target_is_directory=True)
    assert app.test_client().delete(f"/api/jobs/{job_id}").status_code == 204
    assert (outside / "keep.txt").read_text() == "keep"


def test_unknown_job_has_a_message(make_app):
    app = make_app()
    client = app.test_client()
    response = client.delete("/api/jobs/777")
    assert response.status_code == 404 and response.get_json() == {"error": "There is no job 777."}
    response = client.get("/jobs/777")
    assert response.status_code == 404 and "the job may have been deleted" in response.get_data(as_text=True)
    assert client.get("/jobs/777/transcript.srt").status_code == 404
    assert client.get("/jobs/777/video").status_code == 404
    response = client.post("/jobs/777/retry", follow_redirects=True)
    assert "There is no job 777." in response.get_data(as_text=True)


def test_empty_form_has_a_message_and_adds_nothing(make_app):
    app = make_app()
    client = app.test_client()
    for data in ({}, {"urls": ""}, {"urls": "   \n  \n"}):
        response = client.post("/jobs", data=data)
        assert response.status_code == 400
        assert "Paste at least one video URL." in response.get_data(as_text=True)
    assert job_count(app) == 0


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_next_redirect_stays_on_site(make_app, target):
    app = make_app()
    client = app.test_client()
    failed = add_job(app, "http://example.com/f", status="Error", error="boom")
    response = client.post(f"/jobs/{failed}/retry", data={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/jobs/{failed}"
    response = client.post("/jobs/delete", data={"job_ids": str(failed), "next": target})
    assert response.headers["Location"] == "/"
