"""Uploading a file: streamed to disk, checked by ffprobe, moved into its job's folder, or refused
with a clear message and nothing left behind. Flask's test client, and the real server for the limit."""
from __future__ import annotations

import http.client
import io
import json
import re
import subprocess
import urllib.error
import urllib.request

import pytest

import accounts
from tests.conftest import LiveServer
from tests.test_app_api import connect, job_count, make_app  # noqa: F401
from tests.test_auth import PASSWORDS, bearer

JSON = {"Accept": "application/json"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def post_file(client, data: bytes, name: str, headers=JSON, **fields):
    return client.post("/uploads", data={"file": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data", headers=headers)


def left_on_disk(app) -> list[str]:
    """Everything under the download folder (the staging folder itself may stay, empty)."""
    root = app.config["SETTINGS"].download_dir
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.name != ".uploads")


@pytest.fixture(scope="module")
def audio_only(media_dir, tmp_path_factory):
    """short.mp4's sound as MP3, with no video."""
    out = tmp_path_factory.mktemp("audio") / "voice.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(media_dir / "short.mp4"), "-vn", str(out)],
                   check=True, timeout=120)
    return out


def test_an_uploaded_video_is_queued_and_kept_in_its_job_folder(make_app, media_dir):
    app = make_app()
    data = (media_dir / "short.mp4").read_bytes()
    response = post_file(app.test_client(), data, "Garden talk.mp4", num_speakers="2")
    assert response.status_code == 201, response.get_json()
    job = response.get_json()
    assert (job["uploaded"], job["url"], job["title"], job["status"]) == (True, "Garden talk.mp4", "Garden talk", "Queued")
    assert job["num_speakers"] == 2 and job["group_id"] is None
    stored = app.config["SETTINGS"].download_dir / str(job["id"]) / "upload" / "Garden talk.mp4"
    assert stored.read_bytes() == data
    assert left_on_disk(app) == [str(job["id"]), f"{job['id']}/upload", f"{job['id']}/upload/Garden talk.mp4"]
    assert app.extensions["worker"].jobs.get_nowait() == job["id"]


@pytest.mark.parametrize("source, name, stored", [
    ("short.mp4", "holiday.txt", "holiday.mp4"),  # the content decides, not the name
    ("voice.mp3", "voice", "voice.mp3"),
    ("short.mp4", "../../etc/passwd", "passwd.mp4"),
    ("short.mp4", "/home/me/.talk.MOV", "talk.mp4"),
])
def test_the_stored_name_comes_from_the_content(make_app, media_dir, audio_only, source, name, stored):
    app = make_app()
    data = (audio_only if source == "voice.mp3" else media_dir / source).read_bytes()
    response = post_file(app.test_client(), data, name)
    assert response.status_code == 201, response.get_json()
    job = response.get_json()
    assert job["url"] == stored
    assert (app.config["SETTINGS"].download_dir / str(job["id"]) / "upload" / stored).is_file()


@pytest.mark.parametrize("source, name, message", [
    ("notes.txt", "notes.txt", "'notes.txt' cannot be analysed: The file is damaged or is not a video"),
    ("truncated.mp4", "cut.mp4", "'cut.mp4' cannot be analysed: The file is truncated"),
    ("no-audio.mp4", "mute.mp4", "'mute.mp4' cannot be analysed: The file has no audio track"),
    ("playlist", "list.m3u8", "'list.m3u8' cannot be analysed: The file is not in a format this app takes"),
    ("", "", "Choose a video or audio file to upload."),
])
def test_what_is_not_usable_media_is_refused_and_nothing_is_left(make_app, media_dir, source, name, message):
    app = make_app()
    if source == "playlist":  # an HLS playlist naming an address: ffmpeg would fetch it past the guard
        data = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://169.254.169.254/latest\n#EXT-X-ENDLIST\n"
    else:
        data = (media_dir / source).read_bytes() if source else b""
    response = post_file(app.test_client(), data, name)
    assert response.status_code == 400 and response.get_json()["error"].startswith(message)
    assert job_count(app) == 0 and left_on_disk(app) == []


def test_over_the_size_limit_is_413_with_a_clear_message(make_app, media_dir):
    app = make_app(MAX_UPLOAD_MB="1")
    response = post_file(app.test_client(), (media_dir / "interview.mp4").read_bytes(), "long.mp4")
    assert response.status_code == 413
    assert response.get_json() == {"error": "The file is larger than the upload limit of 1 MB (MAX_UPLOAD_MB)."}
    assert job_count(app) == 0 and left_on_disk(app) == []


def test_a_file_that_cannot_be_stored_leaves_no_job_and_no_folder(make_app, media_dir, monkeypatch):
    app = make_app()

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("jobs.os.replace", disk_full)
    response = post_file(app.test_client(), (media_dir / "short.mp4").read_bytes(), "talk.mp4")
    assert response.status_code == 507
    assert response.get_json()["error"] == "'talk.mp4' could not be stored: No space left on device."
    assert job_count(app) == 0 and left_on_disk(app) == []


def test_one_file_at_a_time(make_app, media_dir):
    app = make_app()
    data = (media_dir / "short.mp4").read_bytes()
    response = app.test_client().post("/uploads", headers=JSON, content_type="multipart/form-data",
                                      data={"file": [(io.BytesIO(data), "a.mp4"), (io.BytesIO(data), "b.mp4")]})
    assert response.status_code == 400 and response.get_json()["error"] == "Upload one file at a time."
    assert job_count(app) == 0 and left_on_disk(app) == []


def test_a_body_that_is_not_a_form_is_refused(make_app):
    app = make_app()
    response = app.test_client().post("/uploads", data=b"--x\r\nbroken", headers={**JSON, "Content-Type": "multipart/form-data"})
    assert response.status_code == 400 and "The upload could not be read" in response.get_json()["error"]
    assert left_on_disk(app) == []


def test_without_javascript_the_form_posts_and_the_page_says_what_happened(make_app, media_dir):
    app = make_app()
    client = app.test_client()
    response = post_file(client, (media_dir / "short.mp4").read_bytes(), "talk.mp4", headers={})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Uploaded &#39;talk.mp4&#39;; it is queued." in client.get("/").get_data(as_text=True)
    response = post_file(client, b"hello", "notes.txt", headers={})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "&#39;notes.txt&#39; cannot be analysed" in html
    assert 'id="upload-form"' in html and job_count(app) == 1


def test_the_upload_form_needs_its_csrf_token(make_app, media_dir):
    app = make_app(csrf=True)
    client = app.test_client()
    data = (media_dir / "short.mp4").read_bytes()
    for token in (None, "forged"):
        fields = {"csrf_token": token} if token else {}
        response = post_file(client, data, "talk.mp4", **fields)
        assert response.status_code == 400 and "reload the page and try again" in response.get_json()["error"]
        assert job_count(app) == 0 and left_on_disk(app) == []
    token = CSRF_META.search(client.get("/").get_data(as_text=True)).group(1)
    assert post_file(client, data, "talk.mp4", csrf_token=token).status_code == 201


def test_the_form_states_the_limit(make_app):
    html = make_app(MAX_UPLOAD_MB="300").test_client().get("/").get_data(as_text=True)
    assert "Up to 300 MB." in html and 'data-max-bytes="314572800"' in html


def test_the_upload_limit_set_on_the_settings_page_applies_to_the_next_upload(make_app, media_dir):
    app = make_app()
    client = app.test_client()
    data = (media_dir / "short.mp4").read_bytes()  # 2 MB
    assert client.patch("/api/settings", json={"MAX_UPLOAD_MB": "1"}).status_code == 200
    assert "Up to 1 MB." in client.get("/").get_data(as_text=True)
    response = post_file(client, data, "talk.mp4")
    assert response.status_code == 413 and "upload limit of 1 MB" in response.get_json()["error"]
    assert client.patch("/api/settings", json={"MAX_UPLOAD_MB": "3"}).status_code == 200
    assert post_file(client, data, "talk.mp4").status_code == 201


# --- the API: an API token, or a signed-in browser's CSRF token ------------------------------------

@pytest.fixture
def accounts_app(make_app):
    """Sign-in on and CSRF checked, with a member (bob) and his API token."""
    app = make_app(csrf=True, AUTH="on")
    connection = connect(app)
    bob = accounts.create_user(connection, "bob", PASSWORDS["bob"], "member")
    app.config["BOB_TOKEN"] = accounts.create_token(connection, bob, "script")
    connection.close()
    return app


def signed_in_browser(app):
    """A client signed in as bob through the form, and the CSRF token of its pages."""
    client = app.test_client()
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"name": "bob", "password": PASSWORDS["bob"], "csrf_token": token}).status_code == 302
    return client, CSRF_META.search(client.get("/").get_data(as_text=True)).group(1)


def api_upload(client, data: bytes, name: str, headers=None, **fields):
    return client.post("/api/uploads", data={"file": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data", headers=headers or {})


def test_the_api_takes_an_upload_with_an_api_token_and_records_who_sent_it(accounts_app, media_dir):
    data = (media_dir / "short.mp4").read_bytes()
    client = accounts_app.test_client()
    response = api_upload(client, data, "talk.mp4", bearer(accounts_app.config["BOB_TOKEN"]), num_speakers="2")
    assert response.status_code == 201, response.get_json()
    job = response.get_json()
    assert (job["uploaded"], job["url"], job["submitted_by"], job["num_speakers"]) == (True, "talk.mp4", "bob", 2)
    response = api_upload(client, data, "talk.mp4")  # no token, no session
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="clipper"'
    response = api_upload(client, data, "talk.mp4", bearer("clipper_revoked"))
    assert response.status_code == 401
    assert job_count(accounts_app) == 1 and left_on_disk(accounts_app) == [
        str(job["id"]), f"{job['id']}/upload", f"{job['id']}/upload/talk.mp4"]


def test_a_signed_in_browser_uploads_through_the_api_with_its_csrf_token(accounts_app, media_dir):
    data = (media_dir / "short.mp4").read_bytes()
    client, token = signed_in_browser(accounts_app)
    for headers, fields in (({}, {}), ({"X-CSRFToken": "forged"}, {}), ({}, {"csrf_token": "forged"})):
        response = api_upload(client, data, "talk.mp4", headers, **fields)
        assert response.status_code == 400 and "reload the page and try again" in response.get_json()["error"]
        assert job_count(accounts_app) == 0 and left_on_disk(accounts_app) == []
    by_header = api_upload(client, data, "one.mp4", {"X-CSRFToken": token})
    by_field = api_upload(client, data, "two.mp4", csrf_token=token)
    assert (by_header.status_code, by_field.status_code) == (201, 201)
    assert {by_header.get_json()["submitted_by"], by_field.get_json()["submitted_by"]} == {"bob"}
    # the page's form records who uploaded too
    response = post_file(client, data, "three.mp4", csrf_token=token)
    assert response.status_code == 201 and response.get_json()["submitted_by"] == "bob"


def test_api_upload_refusals_are_json(accounts_app, media_dir):
    client = accounts_app.test_client()
    headers = bearer(accounts_app.config["BOB_TOKEN"])
    response = api_upload(client, b"hello", "notes.txt", headers)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("'notes.txt' cannot be analysed: The file is damaged or is not a video")
    response = client.post("/api/uploads", json={"file": "talk.mp4"}, headers=headers)
    assert response.status_code == 415
    assert response.get_json()["error"] == "Send the upload as multipart/form-data, with the file in the field 'file'."
    assert job_count(accounts_app) == 0 and left_on_disk(accounts_app) == []


# --- under the real server ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("uploads") / "app").start(timeout=120)
    yield live
    live.stop()


BOUNDARY = "clipper-test-boundary"


def post_upload(live, length: int, body: bytes | None = None) -> int:
    """POST /uploads declaring a body of `length` bytes, sent only when given; the answer's status.
    Waitress answers a body over its limit from the declared length alone. The CSRF token is wrong."""
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=60)
    try:
        connection.putrequest("POST", "/uploads")
        for name, value in (("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"),
                            ("Content-Length", str(length)), ("Accept", "application/json"), ("X-CSRFToken", "wrong")):
            connection.putheader(name, value)
        connection.endheaders(body)
        return connection.getresponse().status
    finally:
        connection.close()


def patch_settings(live, changes: dict) -> None:
    request = urllib.request.Request(live.base_url + "/api/settings", data=json.dumps(changes).encode(),
                                     method="PATCH", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_the_server_refuses_a_huge_upload_before_receiving_it(live):
    """A body declared larger than the limit is answered 413 at once: nothing is received or stored."""
    assert post_upload(live, 50 * 1024 ** 3) == 413  # 50 GB, none of it sent
    downloads = live.root / "downloads"
    assert [path for path in downloads.rglob("*") if path.is_file()] == []


def test_the_servers_limit_follows_the_settings_page(live, media_dir):
    """Waitress holds the request body limit; a change on the Settings page reaches it at once."""
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"talk.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode() + (media_dir / "short.mp4").read_bytes() + \
        f"\r\n--{BOUNDARY}--\r\n".encode()  # 2 MB
    patch_settings(live, {"MAX_UPLOAD_MB": "1"})
    assert post_upload(live, len(body)) == 413
    patch_settings(live, {"MAX_UPLOAD_MB": "3"})
    assert post_upload(live, len(body), body) == 400  # past Waitress now: the app refuses its CSRF token
    patch_settings(live, {"MAX_UPLOAD_MB": None})
