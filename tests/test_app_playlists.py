"""Playlists and channels through the app: the API and the pages with Flask's test client, listed by
the real listing process (yt-dlp, behind the address guard) from feeds served over loopback."""
from __future__ import annotations

import re
import shutil

import pytest

import accounts
from tests.conftest import rss
from tests.test_app_api import connect, job_count, make_app  # noqa: F401
from tests.test_auth import CSRF_META, PASSWORDS, bearer, new_token, sign_in, user_id
from tests.test_url_guard import ALLOWED_HOST, Site

GROUP = re.compile(r'<tbody class="job-group" data-group-id="(\d+)">')


def queue_playlist(client, url: str, **body):
    return client.post("/api/jobs", json={"playlist_url": url, **body})


def group_count(app) -> int:
    connection = connect(app)
    try:
        return connection.execute("SELECT COUNT(*) FROM job_groups").fetchone()[0]
    finally:
        connection.close()


# --- the API -----------------------------------------------------------------------------------

def test_a_playlist_becomes_a_group_with_a_job_per_video(make_app, playlist_server):
    app = make_app()
    client = app.test_client()
    response = queue_playlist(client, playlist_server.url("three.xml"), resolution="480p", num_speakers=2)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    group, queued = body["group"], body["jobs"]
    assert (group["title"], group["url"]) == ("Garden talks", playlist_server.url("three.xml"))
    assert group["counts"] == {"Queued": 3} and group["total"] == 3
    assert group["more"] is False and group["note"] is None and group["video_count"] == 3
    assert body["message"] == "Queued 3 videos of the playlist 'Garden talks'."
    assert [(job["url"], job["title"]) for job in queued] == [
        (playlist_server.url(f"short.mp4?part={n}"), f"Garden talk {n}") for n in (1, 2, 3)]
    assert {(job["group_id"], job["status"], job["resolution"], job["num_speakers"]) for job in queued} == {
        (group["id"], "Queued", "480p", 2)}
    worker = app.extensions["worker"]
    assert [worker.jobs.get_nowait() for _ in queued] == [job["id"] for job in queued]  # in playlist order

    again = client.get(f"/api/groups/{group['id']}").get_json()
    assert again["group"] == group and again["jobs"] == queued
    listed = client.get("/api/jobs").get_json()["jobs"]
    assert {job["id"]: job["group_id"] for job in listed} == {job["id"]: group["id"] for job in queued}


def test_over_the_cap_the_first_videos_are_queued_and_it_says_so(make_app, playlist_server):
    app = make_app(MAX_PLAYLIST_VIDEOS="2")
    response = queue_playlist(app.test_client(), playlist_server.url("three.xml"))
    assert response.status_code == 201
    body = response.get_json()
    assert [job["title"] for job in body["jobs"]] == ["Garden talk 1", "Garden talk 2"]
    assert body["group"]["more"] is True and body["group"]["queued"] == 2
    note = "Only the first 2 of its 3 videos were queued: MAX_PLAYLIST_VIDEOS is the most one playlist adds."
    assert body["group"]["note"] == note
    assert body["message"] == f"Queued 2 videos of the playlist 'Garden talks'. {note}"
    assert job_count(app) == 2


@pytest.mark.parametrize("path, status, message", [
    ("empty.xml", 400, "The playlist 'Nothing yet' has no videos."),
    ("short.mp4", 400, "is a single video, not a playlist or channel: add it as a video URL."),
    ("gone.xml", 400, "The playlist could not be listed. The video was not found (HTTP 404)."),
])
def test_a_playlist_without_videos_queues_nothing(make_app, playlist_server, path, status, message):
    app = make_app()
    response = queue_playlist(app.test_client(), playlist_server.url(path))
    assert response.status_code == status and message in response.get_json()["error"]
    assert job_count(app) == 0 and group_count(app) == 0


@pytest.mark.parametrize("body, message", [
    ({"playlist_url": ""}, "Paste the address of a playlist or channel."),
    ({"playlist_url": 5}, "'playlist_url' must be a string."),
    ({"playlist_url": "file:///etc/passwd"}, "only http:// and https:// URLs are accepted"),
    ({"playlist_url": "http://example.com/list", "urls": ["http://example.com/a"]}, "not both"),
    ({"playlist_url": "http://example.com/list", "resolution": "8k"}, "Resolution must be one of"),
])
def test_bad_playlist_requests_are_refused_before_anything_is_fetched(make_app, body, message):
    app = make_app()
    response = app.test_client().post("/api/jobs", json=body)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert job_count(app) == 0 and app.extensions["worker"].lister.pid is None  # nothing was listed


def test_a_video_of_the_playlist_already_queued_is_409_and_queues_nothing(make_app, playlist_server):
    app = make_app()
    client = app.test_client()
    assert client.post("/api/jobs", json={"url": playlist_server.url("short.mp4?part=2")}).status_code == 201
    response = queue_playlist(client, playlist_server.url("three.xml"))
    assert response.status_code == 409
    assert response.get_json()["error"].startswith(f"Video 2 of the playlist: '{playlist_server.url('short.mp4?part=2')}'"
                                                   " is already in the queue (job ")
    assert job_count(app) == 1 and group_count(app) == 0


def test_cancel_a_group(make_app, playlist_server):
    app = make_app()
    client = app.test_client()
    body = queue_playlist(client, playlist_server.url("three.xml")).get_json()
    group_id, first = body["group"]["id"], body["jobs"][0]["id"]
    assert client.post(f"/api/jobs/{first}/cancel", json={}).status_code == 202  # one is cancelled already
    response = client.post(f"/api/groups/{group_id}/cancel", json={})
    assert response.status_code == 202
    assert response.get_json()["group"]["counts"] == {"Cancelled": 3}
    assert {job["status"] for job in response.get_json()["jobs"]} == {"Cancelled"}
    response = client.post(f"/api/groups/{group_id}/cancel", json={})
    assert response.status_code == 409 and "nothing to cancel" in response.get_json()["error"]


def test_delete_a_group_with_its_jobs_and_files(make_app, playlist_server):
    app = make_app()
    client = app.test_client()
    other = client.post("/api/jobs", json={"url": playlist_server.url("silence.mp4")}).get_json()["jobs"][0]
    body = queue_playlist(client, playlist_server.url("three.xml")).get_json()
    group_id = body["group"]["id"]
    folders = [app.config["SETTINGS"].download_dir / str(job["id"]) for job in body["jobs"]]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "video.mp4").write_bytes(b"video")
    assert client.delete(f"/api/groups/{group_id}").status_code == 204
    assert not any(folder.exists() for folder in folders)
    for job in body["jobs"]:
        assert client.get(f"/api/jobs/{job['id']}").status_code == 404
    response = client.get(f"/api/groups/{group_id}")
    assert response.status_code == 404 and response.get_json() == {"error": f"There is no playlist group {group_id}."}
    assert client.delete(f"/api/groups/{group_id}").status_code == 404
    assert client.post(f"/api/groups/{group_id}/cancel", json={}).status_code == 404
    assert [job["id"] for job in client.get("/api/jobs").get_json()["jobs"]] == [other["id"]]  # the others stay
    assert group_count(app) == 0


def test_a_group_goes_with_its_last_job(make_app, playlist_server):
    app = make_app(MAX_PLAYLIST_VIDEOS="2")
    client = app.test_client()
    body = queue_playlist(client, playlist_server.url("three.xml")).get_json()
    first, second = (job["id"] for job in body["jobs"])
    assert client.delete(f"/api/jobs/{first}").status_code == 204
    assert client.get(f"/api/groups/{body['group']['id']}").get_json()["group"]["total"] == 1
    assert client.delete(f"/api/jobs/{second}").status_code == 204
    assert client.get(f"/api/groups/{body['group']['id']}").status_code == 404 and group_count(app) == 0


# --- who may cancel and delete a group --------------------------------------------------------------

@pytest.fixture
def accounts_app(make_app):
    """Sign-in on, with an admin (alice) and a member (bob), as in test_auth."""
    app = make_app(AUTH="on")
    connection = connect(app)
    for name, role in (("alice", "admin"), ("bob", "member")):
        accounts.create_user(connection, name, PASSWORDS[name], role)
    connection.close()
    return app


def test_a_playlist_and_its_jobs_record_who_submitted_them(accounts_app, playlist_server):
    token = new_token(sign_in(accounts_app, "bob"))
    body = accounts_app.test_client().post("/api/jobs", json={"playlist_url": playlist_server.url("three.xml")},
                                           headers=bearer(token)).get_json()
    assert body["group"]["submitted_by"] == "bob"
    assert {job["submitted_by"] for job in body["jobs"]} == {"bob"}
    connection = connect(accounts_app)
    try:
        assert connection.execute("SELECT user_id FROM job_groups").fetchone()[0] == user_id(accounts_app, "bob")
    finally:
        connection.close()


def test_members_cancel_and_delete_only_their_own_playlists(accounts_app, playlist_server):
    alice, bob = sign_in(accounts_app, "alice"), sign_in(accounts_app, "bob")
    hers = queue_playlist(alice, playlist_server.url("three.xml")).get_json()["group"]["id"]
    his = queue_playlist(bob, playlist_server.url("page.html")).get_json()["group"]["id"]
    for action, response in (("cancel", bob.post(f"/api/groups/{hers}/cancel", json={})),
                             ("delete", bob.delete(f"/api/groups/{hers}"))):
        assert response.status_code == 403
        assert response.get_json()["error"] == (f"You may {action} only playlists you submitted: "
                                                f"alice submitted it (playlist group {hers}).")
    assert alice.get(f"/api/groups/{hers}").get_json()["group"]["counts"] == {"Queued": 3}  # untouched
    # The pages say the same; the home page shows who submitted each playlist.
    token = CSRF_META.search(bob.get("/").get_data(as_text=True)).group(1)
    html = bob.post(f"/groups/{hers}/delete", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "You may delete only playlists you submitted: alice submitted it" in html
    assert "submitted by alice" in html and "submitted by bob" in html
    assert bob.post(f"/api/groups/{his}/cancel", json={}).status_code == 202
    assert bob.delete(f"/api/groups/{his}").status_code == 204
    assert alice.post(f"/api/groups/{hers}/cancel", json={}).status_code == 202
    his = queue_playlist(bob, playlist_server.url("page.html")).get_json()["group"]["id"]
    assert alice.delete(f"/api/groups/{his}").status_code == 204  # an admin may delete any playlist
    assert alice.delete(f"/api/groups/{hers}").status_code == 204
    assert group_count(accounts_app) == 0 and job_count(accounts_app) == 0


# --- the address guard ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guarded_sites(tmp_path_factory, media_dir):
    """(public, private) as in test_url_guard: 127.0.0.2 stands for a public site, 127.0.0.1 is private."""
    private_root, public_root = tmp_path_factory.mktemp("private-lists"), tmp_path_factory.mktemp("public-lists")
    shutil.copy(media_dir / "short.mp4", private_root / "short.mp4")
    private, public = Site("127.0.0.1", private_root), Site(ALLOWED_HOST, public_root)
    (private_root / "feed.xml").write_text(rss("Private", [(private.url("short.mp4"), "Inside")]))
    # A public feed whose second video is on the private server.
    (public_root / "mixed.xml").write_text(rss("Mixed", [(public.url("short.mp4"), "Outside"),
                                                         (private.url("short.mp4"), "Inside")]))
    shutil.copy(media_dir / "short.mp4", public_root / "short.mp4")
    # A public address that redirects to the private server's feed, by a name that resolves to it.
    public.httpd.redirects["/moved.xml"] = f"http://localhost:{private.httpd.server_address[1]}/feed.xml"
    yield public, private
    public.close()
    private.close()


@pytest.fixture
def guarded_app(make_app):
    return make_app(ALLOW_PRIVATE_URLS="0", ALLOWED_NETWORKS=f"{ALLOWED_HOST}/32")


def test_a_playlist_whose_videos_are_on_refused_addresses_queues_nothing(guarded_app, guarded_sites):
    public, private = guarded_sites
    response = queue_playlist(guarded_app.test_client(), public.url("mixed.xml"))
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        f"Video 2 of the playlist: '{private.url('short.mp4')}' points to a private or local address, "
        "which is not allowed (set ALLOW_PRIVATE_URLS=1 to allow it).")
    assert job_count(guarded_app) == 0 and group_count(guarded_app) == 0
    assert private.httpd.requests == []


def test_listing_connects_only_through_the_address_guard(guarded_app, guarded_sites):
    """The typed address is public, but it leads to a private one: the listing process refuses to connect."""
    public, private = guarded_sites
    response = queue_playlist(guarded_app.test_client(), public.url("moved.xml"))
    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "The playlist could not be listed. The download was refused: localhost resolves to a private address, "
        "127.0.0.1; set ALLOW_PRIVATE_URLS=1 to allow such addresses.")
    assert "/moved.xml" in public.httpd.requests and private.httpd.requests == []
    assert job_count(guarded_app) == 0
    response = queue_playlist(guarded_app.test_client(), private.url("feed.xml"))  # typed: refused at once
    assert response.status_code == 400 and "points to a private or local address" in response.get_json()["error"]


# --- the pages ---------------------------------------------------------------------------------

def test_the_form_queues_a_playlist_and_home_shows_its_group(make_app, playlist_server):
    app = make_app(MAX_PLAYLIST_VIDEOS="2")
    client = app.test_client()
    loose = client.post("/api/jobs", json={"url": playlist_server.url("silence.mp4")}).get_json()["jobs"][0]
    response = client.post("/jobs", data={"playlist_url": playlist_server.url("three.xml"), "urls": " \n"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert "Queued 2 videos of the playlist &#39;Garden talks&#39;. Only the first 2 of its 3 videos" in html
    assert "alert-warning" in html  # the cap is said clearly, not as a plain success
    [group_id] = GROUP.findall(html)
    group = html[html.index(f'data-group-id="{group_id}"'):]
    group = group[:group.index("</tbody>")]
    assert "Garden talks" in group and "2 Queued" in group and "Only the first 2 of its 3 videos" in group
    assert [int(i) for i in re.findall(r'<tr data-job-id="(\d+)"', group)] == sorted(
        int(i) for i in re.findall(r'<tr data-job-id="(\d+)"', group))  # playlist order
    assert f'formaction="/groups/{group_id}/cancel"' in group and f'formaction="/groups/{group_id}/delete"' in group
    assert html.index(f'data-group-id="{group_id}"') < html.index(f'<tr data-job-id="{loose["id"]}"')  # newest first

    response = client.post(f"/groups/{group_id}/cancel", follow_redirects=True)
    assert "Cancelling the playlist&#39;s 2 queued or running videos." in response.get_data(as_text=True)
    response = client.post(f"/groups/{group_id}/delete", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Deleted the playlist&#39;s 2 jobs." in html and not GROUP.findall(html)
    assert f'<tr data-job-id="{loose["id"]}"' in html
    response = client.post(f"/groups/{group_id}/delete", follow_redirects=True)
    assert f"There is no playlist group {group_id}." in response.get_data(as_text=True)


def test_the_form_refuses_urls_and_a_playlist_at_once_and_keeps_what_was_typed(make_app, playlist_server):
    app = make_app()
    response = app.test_client().post("/jobs", data={"playlist_url": playlist_server.url("three.xml"),
                                                     "urls": playlist_server.url("short.mp4")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Add either video URLs or a playlist, not both at once." in html
    assert f'value="{playlist_server.url("three.xml")}"' in html
    assert job_count(app) == 0


def test_the_cap_set_on_the_settings_page_applies_to_the_next_playlist(make_app, playlist_server):
    app = make_app()
    client = app.test_client()
    assert client.patch("/api/settings", json={"MAX_PLAYLIST_VIDEOS": 1}).status_code == 200
    body = queue_playlist(client, playlist_server.url("three.xml")).get_json()
    assert len(body["jobs"]) == 1 and body["group"]["more"] is True
    assert "at most its first 1." in client.get("/").get_data(as_text=True)


def test_the_form_states_the_cap(make_app):
    html = make_app(MAX_PLAYLIST_VIDEOS="7").test_client().get("/").get_data(as_text=True)
    assert "at most its first 7." in html
