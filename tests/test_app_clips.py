"""The clips of every video through the app: GET /api/clips, the clips page, and several clips as
one zip (POST /api/clips/zip and the page's download) that is streamed and leaves nothing behind."""
from __future__ import annotations

import io
import os
import re
import zipfile

import pytest

import clips
import db
from tests.test_app_api import add_processed_job, app, client, connect, make_app  # noqa: F401


def add_clip(app, job_id: int, start=1.0, end=4.0, captions=False, vertical=False, status="Created",
             content: bytes | None = None) -> int:
    """A clip row, finished as the clip thread finishes one (its file written when Created)."""
    connection = connect(app)
    try:
        clip_id = db.create_clip(connection, job_id, start, end, captions, vertical)
        if status == "Created":
            folder = app.config["SETTINGS"].processed_clips_dir / str(job_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"clip-{clip_id}.mp4").write_bytes(content if content is not None else f"clip {clip_id}".encode())
            db.finish_clip(connection, clip_id, f"clip-{clip_id}.mp4")
        elif status == "Failed":
            db.finish_clip(connection, clip_id, None, error="ffmpeg said no")
        return clip_id
    finally:
        connection.close()


def open_clip_files(app) -> list[str]:
    """The files under the clips folder this process holds open."""
    folder = str(app.config["SETTINGS"].processed_clips_dir)
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed again
            continue
        if target.startswith(folder):
            held.append(target)
    return held


@pytest.fixture
def library(app):
    """Two videos with clips in every state: {name: id}."""
    garden = add_processed_job(app, url="http://example.com/garden", title="Garden show")
    kitchen = add_processed_job(app, url="http://example.com/kitchen", title="Kitchen: 1/2 <live>")
    return {"garden": garden, "kitchen": kitchen,
            "plain": add_clip(app, garden), "captioned": add_clip(app, garden, captions=True),
            "vertical": add_clip(app, kitchen, vertical=True, captions=True),
            "cutting": add_clip(app, kitchen, status="Creating"), "failed": add_clip(app, kitchen, status="Failed")}


# --- the list ----------------------------------------------------------------------------------

def test_api_lists_every_videos_clips_newest_first_with_filters(client, library):
    body = client.get("/api/clips").get_json()
    order = ["failed", "cutting", "vertical", "captioned", "plain"]
    assert [clip["id"] for clip in body["clips"]] == [library[name] for name in order]
    assert (body["total"], body["limit"], body["offset"]) == (5, 50, 0)
    newest = body["clips"][0]
    assert (newest["status"], newest["error"], newest["job_title"]) == ("Failed", "ffmpeg said no", "Kitchen: 1/2 <live>")
    assert newest["created_at"] > 0 and newest["url"] is None
    created = body["clips"][2]
    assert created["url"] == f"/clips/{created['id']}.mp4" and created["download_url"].endswith("?download=1")

    def ids(query):
        return [clip["id"] for clip in client.get(f"/api/clips?{query}").get_json()["clips"]]

    assert ids(f"job={library['garden']}") == [library["captioned"], library["plain"]]
    assert ids("status=Created") == [library["vertical"], library["captioned"], library["plain"]]
    assert ids("captions=yes") == [library["vertical"], library["captioned"]]
    assert ids("captions=no&status=Created") == [library["plain"]]
    assert ids(f"vertical=true&job={library['kitchen']}") == [library["vertical"]]
    assert ids("limit=2&offset=1") == [library["cutting"], library["vertical"]]
    assert client.get("/api/clips?limit=2").get_json()["total"] == 5


@pytest.mark.parametrize("query, status, message", [
    ("status=Done", 400, "Status must be one of Creating, Created, Failed."),
    ("captions=maybe", 400, "The captions filter takes yes or no."),
    ("vertical=2", 400, "The vertical filter takes yes or no."),
    ("job=abc", 400, "'abc' is not a job id"),
    ("job=999", 404, "There is no job 999."),
])
def test_api_list_refuses_bad_filters(client, library, query, status, message):
    response = client.get(f"/api/clips?{query}")
    assert response.status_code == status and message in response.get_json()["error"]


def test_clips_page_lists_filters_and_pages(app, client, library):
    html = client.get("/clips").get_data(as_text=True)
    assert html.count('class="list-group-item clip-row"') == 5 and ">5 clips<" in html
    assert "Kitchen: 1/2 &lt;live&gt;" in html and "<live>" not in html
    assert f'<option value="{library["garden"]}" >Garden show</option>' in html  # the video filter offers both
    assert f'name="ids" value="{library["plain"]}" aria-label="Select clip {library["plain"]}">' in html
    assert f'aria-label="Select clip {library["cutting"]}" disabled>' in html  # only created clips can be zipped
    assert f'href="/clips/{library["plain"]}.mp4?download=1"' in html and "ffmpeg said no" in html
    html = client.get(f"/clips?job={library['garden']}&captions=yes").get_data(as_text=True)
    assert html.count('class="list-group-item clip-row"') == 1 and f'data-clip-id="{library["captioned"]}"' in html
    assert f'<option value="{library["garden"]}" selected>' in html and '<option value="yes" selected>With' in html
    assert f'<input type="hidden" name="job" value="{library["garden"]}">' in html  # a failed zip comes back here
    response = client.get("/clips?status=Done")
    assert response.status_code == 400 and "Status must be one of" in response.get_data(as_text=True)
    html = client.get("/clips?status=Failed&vertical=yes").get_data(as_text=True)
    assert 'id="no-clips"' in html and "match these filters" in html


def test_clips_page_pages(app, client):
    job_id = add_processed_job(app)
    ids = [add_clip(app, job_id, status="Creating") for _ in range(35)]
    html = client.get("/clips?status=Creating").get_data(as_text=True)
    assert html.count('class="list-group-item clip-row"') == 30 and "Page 1 of 2" in html
    assert "/clips?page=2&amp;status=Creating" in html
    html = client.get("/clips?page=2&status=Creating").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'data-clip-id="(\d+)"', html)] == ids[:5][::-1]
    assert "Newer" in html and "Older" not in html


def test_clips_link_in_the_navbar(client):
    assert '<a class="nav-link" href="/clips">Clips</a>' in client.get("/").get_data(as_text=True)


# --- the zip -----------------------------------------------------------------------------------

def test_api_zips_created_clips_under_their_video_titles(app, client, library):
    big = add_clip(app, library["garden"], content=os.urandom(300_000))  # several pieces of CHUNK bytes
    response = client.post("/api/clips/zip", json={"ids": [library["vertical"], big, library["plain"], big]})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed and response.headers["Content-Disposition"].startswith('attachment; filename="clips-')
    pieces = list(response.response)
    response.close()
    assert len(pieces) > 4, "the zip is sent as it is written"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.testzip() is None
    assert archive.namelist() == [f"Kitchen-1-2-live-clip-{library['vertical']}.mp4", f"Garden-show-clip-{big}.mp4",
                                  f"Garden-show-clip-{library['plain']}.mp4"]  # in the order asked, once each
    folder = app.config["SETTINGS"].processed_clips_dir
    for info in archive.infolist():
        clip_id = int(info.filename.rsplit("-", 1)[1].removesuffix(".mp4"))
        job_id = library["kitchen"] if clip_id == library["vertical"] else library["garden"]
        assert archive.read(info) == (folder / str(job_id) / f"clip-{clip_id}.mp4").read_bytes()
        assert info.compress_type == zipfile.ZIP_STORED
    assert open_clip_files(app) == [], "every clip file is closed again"


@pytest.mark.parametrize("body, status, message", [
    ({}, 400, "Select at least one clip to download."),
    ({"ids": []}, 400, "Select at least one clip to download."),
    ({"ids": "1,2"}, 400, "Clip ids must be a list of whole numbers."),
    ({"ids": [1.5]}, 400, "Clip ids must be a list of whole numbers."),
    ({"ids": [True]}, 400, "Clip ids must be a list of whole numbers."),
    ({"ids": ["x"]}, 400, "Clip ids must be a list of whole numbers."),
    ({"ids": [999]}, 404, "There is no clip 999."),
    ({"ids": list(range(1, 102))}, 400, "At most 100 clips in one zip."),
])
def test_api_zip_refuses_bad_ids(app, client, library, body, status, message):
    response = client.post("/api/clips/zip", json=body)
    assert response.status_code == status and response.get_json() == {"error": message}
    assert open_clip_files(app) == []


def test_api_zip_refuses_clips_that_are_not_ready_or_lost_their_file(app, client, library):
    for name, status in (("cutting", "Creating"), ("failed", "Failed")):
        response = client.post("/api/clips/zip", json={"ids": [library["plain"], library[name]]})
        assert response.status_code == 409
        assert response.get_json()["error"] == f"Clip {library[name]} is {status}; only created clips can be downloaded."
    folder = app.config["SETTINGS"].processed_clips_dir / str(library["garden"])
    (folder / f"clip-{library['captioned']}.mp4").unlink()
    response = client.post("/api/clips/zip", json={"ids": [library["plain"], library["captioned"]]})
    assert response.status_code == 404
    assert response.get_json()["error"] == f"The file of clip {library['captioned']} is missing; cut the clip again."
    assert open_clip_files(app) == [], "the clip opened before the missing one is closed again"
    assert client.post("/api/clips/zip", data="ids=1", content_type="application/x-www-form-urlencoded").status_code == 415


def test_page_zip_downloads_or_says_why_not_on_the_clips_page(client, library):
    response = client.get(f"/clips/zip?ids={library['plain']}&ids={library['vertical']}&job=&status=Created")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.get_data())).namelist()
    assert names == [f"Garden-show-clip-{library['plain']}.mp4", f"Kitchen-1-2-live-clip-{library['vertical']}.mp4"]
    response = client.get("/clips/zip?status=Created&page=2")
    assert response.status_code == 302 and response.headers["Location"] == "/clips?status=Created&page=2"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Select at least one clip to download." in page
    response = client.get(f"/clips/zip?ids={library['cutting']}", follow_redirects=True)
    assert f"Clip {library['cutting']} is Creating; only created clips can be downloaded." in response.get_data(as_text=True)


@pytest.mark.parametrize("title, name", [
    ("Garden show", "Garden-show-clip-7.mp4"),
    ("../../etc/passwd", "etc-passwd-clip-7.mp4"),
    ("a/b\\c:d*e?f\"g<h>i|j", "a-b-c-d-e-f-g-h-i-j-clip-7.mp4"),
    ("Ünïcödé 日本語", "Ünïcödé-日本語-clip-7.mp4"),
    ("...", "video-clip-7.mp4"),
    ("", "video-clip-7.mp4"),
    (None, "video-clip-7.mp4"),
    ("x" * 200, "x" * 80 + "-clip-7.mp4"),
])
def test_archive_names_keep_only_safe_characters(title, name):
    assert clips.archive_name(title, 7) == name


def test_openapi_describes_the_clip_list_and_zip():
    import yaml
    from pathlib import Path
    spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "static" / "openapi.yaml").read_text())
    assert {p["name"] for p in spec["paths"]["/clips"]["get"]["parameters"]} == {
        "job", "status", "captions", "vertical", "limit", "offset"}
    assert "application/zip" in spec["paths"]["/clips/zip"]["post"]["responses"]["200"]["content"]
