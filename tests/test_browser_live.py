"""Live updates and the page policy in Chromium (Playwright), against the app under Waitress in this
process: the tests save and announce job changes themselves, so nothing is analysed and every step
is under their control."""
from __future__ import annotations

import pytest

import db
from tests.conftest import AppServer
from tests.test_app_api import add_job, add_processed_job, connect, make_app  # noqa: F401
from tests.test_browser import UI_MS, browser, expect  # noqa: F401

LIVE_MS = 15_000  # a change reaching a page: a stream reconnects after 2 s


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


# --- live updates --------------------------------------------------------------------------------------

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
