"""Playlists and uploads in a real browser: Chromium (Playwright) against `python app.py` under Waitress.

A playlist served from loopback expands into a group of jobs that the page shows, collapses, cancels
and deletes; a file chosen with the file picker uploads with its progress shown and is analysed; a
dropped text file and a file over the limit are refused with a clear message. With sign-in, a member
uploads with his session and may not delete the admin's playlist.
"""
from __future__ import annotations

import re

import pytest

import accounts
import db
from tests.conftest import LiveServer
from tests.test_browser import PHONE, PROCESSING_MS, UI_MS, api, browser, job_total, row, wait_for_job  # noqa: F401
from tests.test_browser_auth import ADMIN, MEMBER, sign_in

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

UPLOAD_LIMIT_MB = 3  # short.mp4 (2 MB) fits, interview.mp4 (7 MB) does not


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("playlists-uploads-app"), MAX_UPLOAD_MB=str(UPLOAD_LIMIT_MB)).start(timeout=120)
    yield live
    live.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.base_url)
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    yield page
    context.close()


def group(page, group_id: int):
    return page.locator(f'#jobs-table tbody[data-group-id="{group_id}"]')


def accept_dialogs(page) -> list[str]:
    seen = []
    page.on("dialog", lambda dialog: (seen.append(dialog.message), dialog.accept()))
    return seen


# ---- playlists ----------------------------------------------------------------------------------

def test_a_playlist_expands_into_a_group_that_collapses_cancels_and_deletes(page, server, playlist_server):
    page.goto("/")
    expect(page.locator("#playlist-help")).to_contain_text("at most its first 50")
    page.fill("#playlist_url", playlist_server.url("three.xml"))
    with page.expect_navigation():
        page.get_by_role("button", name="Add to queue").click()
    expect(page.locator("[data-flash]")).to_have_text(re.compile(r"Queued 3 videos of the playlist 'Garden talks'\."))
    group_id = int(page.locator("#jobs-table tbody[data-group-id]").first.get_attribute("data-group-id"))
    job_ids = [job["id"] for job in api(server, f"/api/groups/{group_id}")["jobs"]]

    section = group(page, group_id)
    expect(section.locator('[data-field="group-title"]')).to_have_text("Garden talks")
    expect(section.locator('[data-field="group-title"]')).to_have_attribute("href", playlist_server.url("three.xml"))
    rows = section.locator("tr[data-job-id]")
    expect(rows).to_have_count(3)
    assert [int(i) for i in rows.evaluate_all("rows => rows.map((r) => r.dataset.jobId)")] == job_ids
    expect(rows.nth(0).locator('[data-field="title"]')).to_have_text(re.compile("Garden talk 1|short"))
    expect(section.locator('[data-field="group-counts"]')).to_contain_text(re.compile(r"\d (Queued|Downloading)"))

    toggle = section.get_by_role("button", name="Hide the playlist's videos")
    toggle.click()
    expect(rows.first).to_be_hidden()
    expect(section.locator('[data-field="group-title"]')).to_be_visible()  # the header stays
    section.get_by_role("button", name="Show the playlist's videos").click()
    expect(rows.first).to_be_visible()

    dialogs = accept_dialogs(page)
    with page.expect_navigation():
        section.get_by_role("button", name="Cancel all").click()
    assert dialogs == ["Cancel the playlist's queued and running videos?"]
    expect(page.locator("[data-flash]")).to_contain_text("Cancelling the playlist's")
    for job_id in job_ids:
        assert wait_for_job(server, job_id, timeout=120)["status"] == "Cancelled"
    expect(group(page, group_id).locator('[data-field="group-counts"]')).to_have_text("3 Cancelled")  # live
    expect(group(page, group_id).get_by_role("button", name="Cancel all")).to_be_hidden()

    with page.expect_navigation():
        group(page, group_id).get_by_role("button", name="Delete all").click()
    assert dialogs[-1] == "Delete all of the playlist's videos with their files and clips?"
    expect(page.locator("[data-flash]")).to_have_text(re.compile("Deleted the playlist's 3 jobs."))
    expect(group(page, group_id)).to_have_count(0)
    assert all(not (server.root / "downloads" / str(job_id)).exists() for job_id in job_ids)


def test_a_playlist_queued_elsewhere_appears_live_and_goes_when_deleted(page, server, playlist_server):
    page.goto("/")
    page.wait_for_timeout(500)  # the live stream is open
    created = api(server, "/api/jobs", {"playlist_url": playlist_server.url("page.html")})
    group_id = created["group"]["id"]
    section = group(page, group_id)
    expect(section.locator('[data-field="group-title"]')).to_have_text("Two clips")
    expect(section.locator("tr[data-job-id]")).to_have_count(2)
    assert section.evaluate("s => s === document.querySelector('#jobs-table tbody')")  # the newest, on top
    api(server, f"/api/groups/{group_id}/cancel", {})
    expect(section.locator('[data-field="group-counts"]')).to_have_text("2 Cancelled")
    expect(section.get_by_role("button", name="Cancel all")).to_be_hidden()
    api(server, f"/api/groups/{group_id}", method="DELETE")
    expect(section).to_have_count(0)


def test_a_group_fits_a_phone_screen(browser, server, playlist_server):
    created = api(server, "/api/jobs", {"playlist_url": playlist_server.url("three.xml")})
    api(server, f"/api/groups/{created['group']['id']}/cancel", {})
    context = browser.new_context(viewport=PHONE, base_url=server.base_url, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto("/")
        header = group(page, created["group"]["id"]).locator("tr.group-row")
        expect(header).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        for name in ("Delete all", "Hide the playlist's videos"):
            box = header.get_by_role("button", name=name).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (name, box)
    finally:
        context.close()
    api(server, f"/api/groups/{created['group']['id']}", method="DELETE")


# ---- uploads ------------------------------------------------------------------------------------

def test_a_file_chosen_with_the_picker_uploads_with_progress_and_is_analysed(page, server, media_dir):
    page.goto("/")
    expect(page.locator("#upload-help")).to_contain_text(f"Up to {UPLOAD_LIMIT_MB} MB.")
    page.evaluate("""() => {
        window.__progress = [];
        const bar = document.getElementById('upload-progress');
        new MutationObserver(() => window.__progress.push([bar.hidden, bar.getAttribute('aria-valuenow')]))
            .observe(bar, {attributes: true});
    }""")
    page.set_input_files("#upload-file", str(media_dir / "short.mp4"))
    page.get_by_role("button", name="Upload and analyse").click()
    state = page.locator("#upload-state")
    expect(state).to_have_text(re.compile(r"Uploaded 'short\.mp4': it is queued as job \d+\."))
    job_id = int(re.search(r"job (\d+)", state.inner_text()).group(1))
    progress = page.evaluate("window.__progress")
    assert [False, "0"] in progress and progress[-1] == [False, "100"], progress
    expect(page.locator("#upload-file")).to_have_value("")
    expect(row(page, job_id)).to_be_visible()  # live

    expect(row(page, job_id).locator('[data-field="status"]')).to_have_text("Processed", timeout=PROCESSING_MS)
    job = api(server, f"/api/jobs/{job_id}")
    assert job["uploaded"] is True and job["title"] == "short" and job["duration"] > 5
    assert api(server, f"/api/jobs/{job_id}/segments")["segments"]
    page.goto(f"/jobs/{job_id}")
    expect(page.get_by_text("uploaded file short.mp4")).to_be_visible()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=60_000)


def test_a_dropped_text_file_is_refused_clearly(page, server):
    before = job_total(server)
    page.goto("/")
    transfer = page.evaluate_handle("""() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(['This is a text file, not a video.'], 'notes.txt', {type: 'text/plain'}));
        return transfer;
    }""")
    page.dispatch_event("#upload-form", "dragover", {"dataTransfer": transfer})
    expect(page.locator("#upload-form")).to_have_class(re.compile(r"\bdragging\b"))
    page.dispatch_event("#upload-form", "drop", {"dataTransfer": transfer})
    expect(page.locator("#upload-form")).not_to_have_class(re.compile(r"\bdragging\b"))
    expect(page.locator("#upload-state")).to_have_text(re.compile(
        r"^'notes\.txt' cannot be analysed: The file is damaged or is not a video"))
    expect(page.locator("#upload-progress")).to_be_hidden()
    assert job_total(server) == before
    staging = server.root / "downloads" / ".uploads"
    assert not staging.exists() or list(staging.iterdir()) == []


def test_a_file_over_the_limit_is_refused_before_it_is_sent(page, server, media_dir):
    before = job_total(server)
    requests = []
    page.on("request", lambda request: requests.append(request.url) if request.method == "POST" else None)
    page.goto("/")
    page.set_input_files("#upload-file", str(media_dir / "interview.mp4"))
    page.get_by_role("button", name="Upload and analyse").click()
    expect(page.locator("#upload-state")).to_have_text(
        f"'interview.mp4' is 7 MB, larger than the upload limit of {UPLOAD_LIMIT_MB} MB (MAX_UPLOAD_MB).")
    assert requests == [] and job_total(server) == before


# ---- with sign-in: who may do what -------------------------------------------------------------

@pytest.fixture(scope="module")
def accounts_server(tmp_path_factory):
    """AUTH=on, with an admin (alice) and a member (bob) made before the server starts."""
    root = tmp_path_factory.mktemp("playlists-uploads-accounts")
    connection = db.connect(root / "instance" / "videos.db")
    db.migrate(connection)
    accounts.create_user(connection, *ADMIN, "admin")
    accounts.create_user(connection, *MEMBER, "member")
    connection.close()
    live = LiveServer(root, AUTH="on", MAX_UPLOAD_MB=str(UPLOAD_LIMIT_MB)).start(timeout=120)
    yield live
    live.stop()


def test_a_member_uploads_with_his_session_and_may_not_delete_the_admins_playlist(browser, accounts_server,
                                                                                  playlist_server, media_dir):
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}, base_url=accounts_server.base_url)
                for _ in range(2)]
    try:
        alice, bob = (context.new_page() for context in contexts)
        for page, person in ((alice, ADMIN), (bob, MEMBER)):
            page.set_default_timeout(UI_MS)
            sign_in(page, *person)
            accept_dialogs(page)
        alice.fill("#playlist_url", playlist_server.url("three.xml"))
        with alice.expect_navigation():
            alice.get_by_role("button", name="Add to queue").click()
        group_id = int(alice.locator("#jobs-table tbody[data-group-id]").first.get_attribute("data-group-id"))
        with alice.expect_navigation():
            group(alice, group_id).get_by_role("button", name="Cancel all").click()  # spares the CPU

        bob.goto("/")
        section = group(bob, group_id)
        expect(section.locator('[data-field="group-submitted-by"]')).to_have_text("submitted by alice")
        with bob.expect_navigation():
            section.get_by_role("button", name="Delete all").click()
        expect(bob.locator("[data-flash]")).to_contain_text(
            f"You may delete only playlists you submitted: alice submitted it (playlist group {group_id}).")
        expect(group(bob, group_id).locator("tr[data-job-id]")).to_have_count(3)

        # His upload carries his session's CSRF token, and records him as its submitter.
        bob.set_input_files("#upload-file", str(media_dir / "short.mp4"))
        bob.get_by_role("button", name="Upload and analyse").click()
        state = bob.locator("#upload-state")
        expect(state).to_have_text(re.compile(r"Uploaded 'short\.mp4': it is queued as job \d+\."))
        job_id = int(re.search(r"job (\d+)", state.inner_text()).group(1))
        bob.goto(f"/jobs/{job_id}")
        expect(bob.locator("#submitted-by")).to_have_text("· submitted by bob")
        expect(bob.get_by_text("uploaded file short.mp4")).to_be_visible()
        with bob.expect_navigation():
            bob.locator("#job-actions").get_by_role("button", name="Cancel").click()

        alice.goto("/")
        with alice.expect_navigation():
            group(alice, group_id).get_by_role("button", name="Delete all").click()
        expect(alice.locator("[data-flash]")).to_have_text(re.compile("Deleted the playlist's 3 jobs."))
    finally:
        for context in contexts:
            context.close()
