"""The page policy in Chromium (Playwright), against the app under Waitress in this process: the tests
make their jobs themselves, so nothing is analysed."""
from __future__ import annotations

import pytest

from tests.conftest import AppServer
from tests.test_app_api import add_job, add_processed_job, make_app  # noqa: F401
from tests.test_browser import UI_MS, browser  # noqa: F401


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
