"""Live updates and the page policy in Chromium (Playwright), against the app under Waitress in this
process: the tests save and announce job changes themselves, so nothing is analysed and every step
is under their control."""
from __future__ import annotations

import pytest

import db
from tests.conftest import AppServer
from tests.test_app_api import add_job, add_processed_job, connect, make_app  # noqa: F401
from tests.test_browser import UI_MS, browser, expect  # noqa: F401

TABS = 10  # more than the six connections a browser opens to one host
LIVE_MS = 15_000  # a change reaching a page: polling tabs ask every 2 s, a stream reconnects after 2 s


@pytest.fixture
def served(make_app):
    server = AppServer(make_app(csrf=True, EVENTS_KEEPALIVE_SECONDS="1"))
    yield server
    server.stop()


@pytest.fixture
def context(browser, served):
    context = browser.new_context(base_url=served.base_url)
    context.set_default_timeout(UI_MS)
    yield context
    context.close()


def advance(app, job_id: int, status: str, step: str, progress: float) -> None:
    """Save a job's progress and announce it, as the worker does."""
    connection = connect(app)
    try:
        db.set_job_progress(connection, job_id, status, step, progress, "")
        app.extensions["worker"].announce_job(connection, job_id)
    finally:
        connection.close()


def status(page, job_id: int):
    """The job's status badge on the home page or on its details page."""
    if "/jobs/" in page.url:
        return page.locator("#job [data-field='status']")
    return page.locator(f'#jobs-table tr[data-job-id="{job_id}"] [data-field="status"]')


def hold_live_script(page) -> list:
    """Hold back the page's first request for live.js: its live updates start once the route continues."""
    held = []
    page.route("**/static/live.js", lambda route: route.continue_() if held else held.append(route))
    return held


def open_held(page, path: str) -> list:
    """Open a page whose HTML is rendered now but whose live updates wait (see hold_live_script)."""
    held = hold_live_script(page)
    page.goto(path, wait_until="commit")
    for _ in range(UI_MS // 20):
        if held:
            return held
        page.wait_for_timeout(20)
    raise AssertionError(f"{path} never asked for live.js")


# --- one stream for all tabs ---------------------------------------------------------------------

@pytest.mark.parametrize("shared_worker", [True, False], ids=["shared-worker", "polling"])
def test_ten_tabs_load_and_each_follows_a_job_live(context, served, shared_worker):
    app = served.app
    job_id = add_job(app, status="Queued")
    other = add_job(app, url="http://example.com/other", status="Queued")
    if not shared_worker:
        context.add_init_script("delete window.SharedWorker")  # as in Chrome on Android
    tabs = []
    for number in range(TABS):
        tab = context.new_page()
        tab.goto("/" if number % 2 else f"/jobs/{job_id}", timeout=10_000)
        expect(status(tab, job_id)).to_have_text("Queued")
        tab.evaluate("window.__sameDocument = true")
        tabs.append(tab)

    # another job failing concerns the home pages only: the details pages must not reload for it
    advance(app, other, "Error", "failed", 0.0)
    advance(app, job_id, "Downloading", "download", 0.5)
    for tab in tabs:
        expect(status(tab, job_id)).to_have_text("Downloading", timeout=LIVE_MS)
    advance(app, job_id, "Processing", "transcribe", 0.4)
    for tab in tabs:
        expect(status(tab, job_id)).to_have_text("Processing", timeout=LIVE_MS)
        if "/jobs/" not in tab.url:
            expect(status(tab, other)).to_have_text("Error", timeout=LIVE_MS)
        assert tab.evaluate("window.__sameDocument") is True, tab.url


def test_a_tab_that_connects_late_gets_what_was_saved_after_its_page(context, served):
    app = served.app
    job_id = add_job(app, status="Queued")
    first = context.new_page()
    first.goto("/")
    late = context.new_page()
    held = open_held(late, f"/jobs/{job_id}")  # rendered Queued; listens only later
    advance(app, job_id, "Downloading", "download", 0.2)
    advance(app, job_id, "Processing", "transcribe", 0.6)
    expect(status(first, job_id)).to_have_text("Processing", timeout=LIVE_MS)  # the shared stream has both changes
    held[0].continue_()
    expect(status(late, job_id)).to_have_text("Processing", timeout=LIVE_MS)  # replayed from the shared stream's backlog
    expect(late.locator("#job [data-field='step']")).to_have_text("transcribe")


def test_a_tab_rendered_before_the_shared_stream_began_loads_afresh(context, served):
    app = served.app
    job_id = add_job(app, status="Queued")
    early = context.new_page()
    held = open_held(early, f"/jobs/{job_id}")  # rendered Queued, before the stream exists
    advance(app, job_id, "Downloading", "download", 0.2)
    first = context.new_page()
    first.goto("/")  # rendered at Downloading: the shared stream starts there
    advance(app, job_id, "Processing", "transcribe", 0.6)
    expect(status(first, job_id)).to_have_text("Processing", timeout=LIVE_MS)
    with early.expect_navigation():  # the stream cannot tell it about Downloading: it reloads
        held[0].continue_()
    expect(status(early, job_id)).to_have_text("Processing", timeout=LIVE_MS)


def test_details_page_loads_afresh_when_the_server_restarted(browser, make_app):
    """After a restart the stream's positions start again: the page is told to resync and reloads."""
    app = make_app(EVENTS_KEEPALIVE_SECONDS="1")
    job_id = add_job(app, status="Queued")
    server = AppServer(app)
    context = browser.new_context(base_url=server.base_url)
    context.set_default_timeout(UI_MS)
    try:
        page = context.new_page()
        page.goto(f"/jobs/{job_id}")
        advance(app, job_id, "Processing", "transcribe", 0.5)
        expect(status(page, job_id)).to_have_text("Processing", timeout=LIVE_MS)
        page.evaluate("window.__sameDocument = true")
        server.stop()
        # saved while the app was down, as its start-up does for an interrupted job
        connection = connect(app)
        db.set_job_progress(connection, job_id, "Queued", "transcribe", 0.5, "resuming after restart")
        connection.close()
        server = AppServer(make_app(EVENTS_KEEPALIVE_SECONDS="1"), port=server.port)
        expect(status(page, job_id)).to_have_text("Queued", timeout=LIVE_MS)
        assert page.evaluate("window.__sameDocument") is None  # loaded afresh
    finally:
        context.close()
        server.stop()


# --- the content security policy -------------------------------------------------------------------

def test_pages_load_without_policy_violations_and_the_policy_holds(context, served):
    app = served.app
    job_id = add_processed_job(app)  # player, speaker timeline and colours, candidates
    add_job(app, url="http://example.com/running", status="Processing")
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append((message.text, message.location.get("url", "")))
            if message.type == "error" else None)
    page.add_init_script("""window.__violations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective));""")
    for path in ("/", f"/jobs/{job_id}", "/errors"):
        page.goto(path)
        page.wait_for_timeout(500)  # the scripts have started the live updates
        assert page.evaluate("window.__violations") == [], path
    assert [text for text, url in errors if not url.endswith("/favicon.ico")] == []

    # an injected inline script does not run
    page.evaluate("""() => { const script = document.createElement('script');
        script.textContent = 'window.__injected = true'; document.body.append(script); }""")
    assert page.evaluate("window.__injected") is None
    assert page.evaluate("window.__violations") == ["script-src-elem"]
