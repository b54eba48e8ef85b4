"""Sign-in and the Settings page in a real browser: Chromium (Playwright) against `python app.py` under
Waitress with AUTH=on. The stories share one server and run in file order: first-run setup makes the
admin, later stories sign in as her or as the member she adds, and throttling comes last (it holds
up the test's own address for a quarter of an hour)."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.conftest import LiveServer
from tests.test_browser import PHONE, UI_MS, browser, expect  # noqa: F401


ADMIN, MEMBER = ("alice", "alice-password"), ("bob", "bob-password")
HF_TOKEN = "hf_NeverShowThisValue42"
JOB_MS = 300_000  # one short video through Whisper on a busy 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("auth-app"), AUTH="on").start(timeout=120)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def story():
    return {}


@pytest.fixture
def context(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.base_url)
    context.set_default_timeout(UI_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def sign_in(page, name: str, password: str) -> None:
    page.goto("/login")
    page.fill("#name", name)
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in")).to_contain_text(name)


def api(server, path: str, token: str | None = None, data=None, method: str | None = None):
    """(status, JSON body) of an API call, with a bearer token if given."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(server.base_url + path, method=method, headers=headers,
                                     data=None if data is None else json.dumps(data).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


# ---- 1. first run ----------------------------------------------------------------------------------

def test_first_run_setup_makes_the_admin(page, server):
    page.goto("/")
    assert page.url == server.base_url + "/setup"
    page.fill("#name", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.fill("#confirm", ADMIN[1])
    with page.expect_navigation():
        page.get_by_role("button", name="Create account").click()
    assert page.url == server.base_url + "/"
    expect(page.locator("[data-flash]")).to_contain_text("Welcome, alice: you are this app's admin.")
    expect(page.locator("#signed-in")).to_contain_text("alice")
    for link in ("Settings", "Accounts"):
        expect(page.get_by_role("link", name=link)).to_be_visible()
    page.goto("/setup")  # once only
    expect(page.locator("h1")).to_have_text("Not found")


# ---- 2. sign-out, and sign-in taking you back -------------------------------------------------------

def test_sign_out_then_a_page_asks_to_sign_in_and_returns_to_it(page, server):
    sign_in(page, *ADMIN)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    expect(page.locator("[data-flash]")).to_contain_text("You are signed out.")
    expect(page.get_by_role("link", name="Error log")).to_have_count(0)
    page.goto("/errors")
    assert page.url == server.base_url + "/login?next=/errors"
    page.fill("#name", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/errors")
    expect(page.locator("h1")).to_have_text("Error log")


def test_wrong_password_and_unknown_name_are_refused_alike(page):
    messages = []
    for name, password in (("alice", "not-her-password"), ("nobody", "not-her-password")):
        page.goto("/login")
        page.fill("#name", name)
        page.fill("#password", password)
        with page.expect_navigation() as answer:
            page.get_by_role("button", name="Sign in").click()
        assert answer.value.status == 401
        messages.append(page.locator("[data-flash]").inner_text().strip())
        expect(page.locator("#signed-in")).to_have_count(0)
        expect(page.locator("#name")).to_have_value(name)
    assert messages[0] == messages[1] and "Wrong name or password." in messages[0]


# ---- 3. the admin adds a member ---------------------------------------------------------------------

def test_admin_adds_a_member(page):
    sign_in(page, *ADMIN)
    page.get_by_role("link", name="Accounts").click()
    form = page.locator("#new-user-form")
    form.locator("#name").fill(MEMBER[0])
    form.locator("#password").fill(MEMBER[1])
    form.locator("#confirm").fill(MEMBER[1])
    form.get_by_role("button", name="Create account").click()
    expect(page.locator("[data-flash]")).to_contain_text("Account bob (member) created")
    expect(page.locator('#users tr[data-user="bob"] select')).to_have_value("member")


def test_signed_in_pages_fit_a_390px_wide_screen(browser, server):
    context = browser.new_context(viewport=PHONE, base_url=server.base_url, is_mobile=True, has_touch=True)
    context.set_default_timeout(UI_MS)
    try:
        page = context.new_page()
        sign_in(page, *ADMIN)
        for path in ("/", "/settings", "/accounts", "/account"):
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, f"{path} scrolls sideways: {width}px"
            box = page.get_by_role("button", name="Sign out").bounding_box()
            assert box and box["x"] + box["width"] <= PHONE["width"] + 1, path
    finally:
        context.close()


# ---- 4. settings: a new diarization backend reaches the next job; the token never shows ----------------

def test_a_changed_backend_is_used_by_the_next_job_and_the_token_stays_hidden(page, server, media_server, story):
    sign_in(page, *ADMIN)
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#applies-when")).to_contain_text("Changes apply from the next job, without a restart")
    expect(page.locator("#setting-DIARIZATION_BACKEND")).to_have_value("auto")
    page.select_option("#setting-DIARIZATION_BACKEND", "embedded")
    page.fill("#setting-HUGGING_FACE_TOKEN", HF_TOKEN)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-flash]")).to_contain_text("Saved DIARIZATION_BACKEND, HUGGING_FACE_TOKEN.")
    expect(page.locator("#setting-DIARIZATION_BACKEND")).to_have_value("embedded")
    token_field = page.locator("#setting-HUGGING_FACE_TOKEN")
    expect(token_field).to_have_value("")
    expect(token_field).to_have_attribute("placeholder", re.compile("set \\(hidden\\)"))
    assert HF_TOKEN not in page.content()
    log = page.locator("#changes")
    expect(log).to_contain_text("DIARIZATION_BACKEND")
    expect(log.locator("tr", has_text="HUGGING_FACE_TOKEN")).to_contain_text("(hidden)")

    # a bad value is refused with the settings table's message, and nothing changes
    page.fill("#setting-CLIP_MIN_SECONDS", "soon")
    page.get_by_role("button", name="Save").click()
    expect(page.locator('[data-setting="CLIP_MIN_SECONDS"] .setting-error')).to_have_text(
        "CLIP_MIN_SECONDS='soon' is not valid: must be a positive number (shortest proposed clip).")
    expect(page.locator("#settings-errors")).to_contain_text("Nothing was saved")

    # the next job: submitted by the admin, analysed with the new backend, no restart in between
    page.goto("/")
    page.fill("#urls", media_server.url("short.mp4"))
    page.get_by_role("button", name="Add to queue").click()
    expect(page.locator("[data-flash]")).to_contain_text("Queued 1 video")
    page.locator("#jobs-table tr[data-job-id] a[data-field=title]").first.click()
    story["job"] = int(page.url.rsplit("/", 1)[-1])
    expect(page.locator("#submitted-by")).to_contain_text("submitted by alice")
    status = page.locator("#job [data-field=status]").first
    expect(status).to_have_text(re.compile("Processed|Error"), timeout=JOB_MS)
    assert status.inner_text() == "Processed", page.locator("#job-error").all_inner_texts()
    expect(page.get_by_text("diarization: embedded (requested)")).to_be_visible()  # was "auto: …" before


# ---- 5. what a member may not do --------------------------------------------------------------------

def test_a_member_cannot_open_settings_or_delete_the_admins_job(page, server, story):
    sign_in(page, *MEMBER)
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    expect(page.get_by_role("link", name="Accounts")).to_have_count(0)
    page.goto("/settings")
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text("Only an admin may do this.")

    job_id = story.get("job")
    if job_id is None:
        pytest.skip("needs the admin's job from the settings story")
    page.goto(f"/jobs/{job_id}")
    expect(page.locator("#submitted-by")).to_contain_text("alice")
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/")
    page.locator(f'#jobs-table tr[data-job-id="{job_id}"]').get_by_role("checkbox").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator(".alert-danger[data-flash]")).to_contain_text(
        f"You may delete only jobs you submitted: alice submitted it (job {job_id}).")
    expect(page.locator(f'#jobs-table tr[data-job-id="{job_id}"]')).to_be_visible()


# ---- 6. API tokens from the Account page ----------------------------------------------------------

def test_a_token_is_shown_once_opens_the_api_and_stops_when_revoked(page, server):
    assert api(server, "/api/jobs")[0] == 401
    sign_in(page, *MEMBER)
    page.get_by_role("link", name="bob").click()
    page.fill("#token-name", "my script")
    page.get_by_role("button", name="New token").click()
    token = page.locator("#new-token-value").input_value()
    assert token.startswith("clipper_")
    status, body = api(server, "/api/jobs?limit=1", token)
    assert status == 200 and "jobs" in body
    assert api(server, "/api/settings", token)[0] == 403  # a member's token has a member's rights
    page.goto("/account")
    assert token not in page.content()
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#tokens tr", has_text="my script").get_by_role("button", name="Revoke").click()
    expect(page.locator("[data-flash]")).to_contain_text("The token is revoked")
    assert api(server, "/api/jobs?limit=1", token)[0] == 401


# ---- 7. throttling (last: it holds up this machine's address) ----------------------------------------

def test_five_wrong_passwords_make_the_next_attempt_wait(page):
    for attempt in range(6):
        page.goto("/login")
        page.fill("#name", MEMBER[0])
        page.fill("#password", MEMBER[1] if attempt == 5 else "wrong-password")
        with page.expect_navigation() as answer:
            page.get_by_role("button", name="Sign in").click()
        if attempt < 5:
            assert answer.value.status == 401
    # the sixth attempt waits, although its password is right
    assert answer.value.status == 429
    assert 14 * 60 < int(answer.value.headers["retry-after"]) <= 15 * 60 + 1
    expect(page.locator("[data-flash]")).to_contain_text("Too many failed sign-ins. Try again in 15 minutes.")
    expect(page.locator("#signed-in")).to_have_count(0)
