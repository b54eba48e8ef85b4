"""Uploading a file: streamed to disk, checked by ffprobe, moved into its job's folder, or refused
with a clear message and nothing left behind. Flask's test client, and the real server for the limit."""
from __future__ import annotations

import http.client
import io
import re
import subprocess

import pytest

from tests.conftest import LiveServer
from tests.test_app_api import job_count, make_app  # noqa: F401

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


# --- under the real server ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_limit_server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("uploads") / "app", MAX_UPLOAD_MB="1").start(timeout=120)
    yield live
    live.stop()


def test_the_server_refuses_a_huge_upload_before_receiving_it(small_limit_server):
    """A body declared larger than the limit is answered 413 at once: nothing is received or stored."""
    connection = http.client.HTTPConnection("127.0.0.1", small_limit_server.port, timeout=10)
    connection.putrequest("POST", "/uploads")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(50 * 1024 ** 3))  # 50 GB, none of it sent
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    connection.close()
    downloads = small_limit_server.root / "downloads"
    assert [path for path in downloads.rglob("*") if path.is_file()] == []
