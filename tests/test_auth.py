"""Sign-in: who needs it, the session cookie, sign-out, throttling, first-run setup, API tokens, roles
and CSRF, through Flask's test client on apps with AUTH=on (the fixtures listen on 127.0.0.1)."""
from __future__ import annotations

import re

import pytest

import accounts
import db
from config import load_settings
from tests.test_app_api import add_job, add_processed_job, connect, job_count, make_app  # noqa: F401

PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
NEW_TOKEN = re.compile(r'id="new-token-value" value="([^"]+)"')


@pytest.fixture
def app(make_app):
    """Sign-in on, with an admin (alice) and a member (bob)."""
    app = make_app(AUTH="on")
    connection = connect(app)
    accounts.create_user(connection, "alice", PASSWORDS["alice"], "admin")
    accounts.create_user(connection, "bob", PASSWORDS["bob"], "member")
    connection.close()
    return app


def sign_in(app, name: str, password: str | None = None, address: str = "127.0.0.1", **client_args):
    """A test client signed in through the form; asserts it worked."""
    client = app.test_client(**client_args)
    response = client.post("/login", data={"name": name, "password": password or PASSWORDS[name]},
                           environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def attempt(app, name: str, password: str, address: str = "127.0.0.1"):
    return app.test_client().post("/login", data={"name": name, "password": password},
                                  environ_base={"REMOTE_ADDR": address})


def user_id(app, name: str) -> int:
    connection = connect(app)
    try:
        return db.user_by_name(connection, name)["id"]
    finally:
        connection.close()


def new_token(client, name: str = "script") -> str:
    response = client.post("/account/tokens", data={"name": name})
    assert response.status_code == 201
    return NEW_TOKEN.search(response.get_data(as_text=True)).group(1)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- who has to sign in ----------------------------------------------------------------------------

@pytest.mark.parametrize("env, required", [
    ({}, False),  # 127.0.0.1
    ({"HOST": "::1"}, False),
    ({"HOST": "localhost"}, False),
    ({"HOST": "0.0.0.0"}, True),
    ({"HOST": "192.168.1.20"}, True),
    ({"HOST": "clipper.lan"}, True),  # a name may well be reachable from elsewhere
    ({"AUTH": "on"}, True),
    ({"AUTH": "off", "HOST": "0.0.0.0"}, False),  # behind a proxy that authenticates
])
def test_sign_in_is_required_whenever_the_app_listens_beyond_loopback(tmp_path, env, required):
    settings = load_settings(environ={"DATABASE_PATH": str(tmp_path / "v.db"), **env})
    assert settings.sign_in_required is required


def test_without_sign_in_pages_redirect_and_the_api_answers_401(app):
    job_id = add_processed_job(app)
    client = app.test_client()
    response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next=/jobs/{job_id}"
    for path in ("/", "/errors", "/settings", "/account", f"/jobs/{job_id}/video", f"/jobs/{job_id}/transcript.srt"):
        assert client.get(path).headers["Location"].startswith("/login"), path
    for method, path in (("get", "/api/jobs"), ("get", f"/api/jobs/{job_id}"), ("delete", f"/api/jobs/{job_id}"),
                         ("get", "/events?poll=1"), ("get", "/api/settings")):
        response = getattr(client, method)(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Bearer" in response.get_json()["error"]
    assert client.post("/api/jobs", json={"url": "http://example.com/a"}).status_code == 401
    assert client.post("/jobs", data={"urls": "http://example.com/a"}).status_code == 302
    assert job_count(app) == 1
    assert client.get("/login").status_code == 200 and client.get("/static/app.css").status_code == 200
    html = client.get("/login").get_data(as_text=True)
    assert "Error log" not in html and "Sign out" not in html  # nothing about the jobs before signing in


def test_sign_in_sign_out_and_the_session_cookie(app):
    client = app.test_client()
    response = client.post("/login", data={"name": "alice", "password": PASSWORDS["alice"], "next": "/errors"})
    assert response.status_code == 302 and response.headers["Location"] == "/errors"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http
    assert "Expires=" in cookie  # kept for the session lifetime, not only until the browser closes
    html = client.get("/").get_data(as_text=True)
    assert 'id="signed-in"' in html and "alice" in html and "Sign out" in html
    stolen = client.get_cookie("session").value

    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    # The old cookie is worth nothing either: sign-out ended the session on the server.
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/").status_code == 302 and replay.get("/api/jobs").status_code == 401


def test_cookie_is_secure_over_https(app):
    client = app.test_client()
    response = client.post("/login", data={"name": "alice", "password": PASSWORDS["alice"]},
                           base_url="https://localhost")
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_sign_in_does_not_go_to_another_site(app):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = app.test_client().post("/login", data={"name": "bob", "password": PASSWORDS["bob"], "next": target})
        assert response.headers["Location"] == "/"


def test_unknown_name_and_wrong_password_get_the_same_answer(app):
    wrong = attempt(app, "alice", "not-her-password")
    unknown = attempt(app, "nobody", "not-her-password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Wrong name or password." in response.get_data(as_text=True)
    assert "Set-Cookie" not in wrong.headers or "sid" not in wrong.headers["Set-Cookie"]


def test_session_ends_after_the_lifetime(app):
    client = sign_in(app, "bob")
    assert client.get("/").status_code == 200
    connection = connect(app)
    connection.execute("UPDATE sessions SET created_at = created_at - 13 * 86400")  # default lifetime: 14 days
    connection.close()
    assert client.get("/").status_code == 200
    connection = connect(app)
    connection.execute("UPDATE sessions SET created_at = created_at - 2 * 86400")
    connection.close()
    assert client.get("/").status_code == 302
    assert client.get("/api/jobs").status_code == 401


def test_passwords_are_stored_as_scrypt_hashes(app):
    connection = connect(app)
    rows = connection.execute("SELECT name, password_hash FROM users").fetchall()
    connection.close()
    for row in rows:
        assert row["password_hash"].startswith("scrypt:")
        assert PASSWORDS[row["name"]] not in row["password_hash"]


# --- throttling --------------------------------------------------------------------------------------

def test_five_failures_for_an_account_make_further_attempts_wait(app):
    for _ in range(accounts.MAX_FAILURES):
        assert attempt(app, "bob", "wrong-password", address="10.0.0.1").status_code == 401
    # the sixth attempt waits, even with the right password, and from another address
    for address in ("10.0.0.1", "10.0.0.2"):
        response = attempt(app, "bob", PASSWORDS["bob"], address=address)
        assert response.status_code == 429
        assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60 + 1
        assert "Too many failed sign-ins. Try again in 15 minutes." in response.get_data(as_text=True)
    sign_in(app, "alice", address="10.0.0.2")  # another account is not held up


def test_five_failures_from_an_address_make_its_attempts_wait(app):
    for name in ("carol", "dave", "erin", "alice", "bob"):  # known and unknown names alike
        assert attempt(app, name, "wrong-password", address="10.0.0.9").status_code == 401
    assert attempt(app, "alice", PASSWORDS["alice"], address="10.0.0.9").status_code == 429
    sign_in(app, "alice", address="10.0.0.10")


def test_a_successful_sign_in_resets_the_count(app):
    for _ in range(accounts.MAX_FAILURES - 1):
        attempt(app, "bob", "wrong-password")
    sign_in(app, "bob")
    for _ in range(accounts.MAX_FAILURES - 1):
        assert attempt(app, "bob", "wrong-password").status_code == 401
    sign_in(app, "bob")


def test_the_wait_ends_when_the_failures_are_older_than_the_window(app):
    for _ in range(accounts.MAX_FAILURES):
        attempt(app, "bob", "wrong-password")
    assert attempt(app, "bob", PASSWORDS["bob"]).status_code == 429
    connection = connect(app)
    connection.execute("UPDATE sign_in_failures SET failed_at = failed_at - ?", (accounts.FAILURE_WINDOW + 1,))
    connection.close()
    sign_in(app, "bob")


def test_a_new_password_lifts_the_wait_and_ends_every_session(app):
    elsewhere = sign_in(app, "bob")
    for _ in range(accounts.MAX_FAILURES):
        attempt(app, "bob", "wrong-password", address="10.0.0.3")
    connection = connect(app)
    accounts.set_password(connection, accounts.find_user(connection, "bob"), "a-new-password")
    connection.close()
    assert elsewhere.get("/").status_code == 302  # signed out
    sign_in(app, "bob", "a-new-password", address="10.0.0.4")


# --- first run -------------------------------------------------------------------------------------

@pytest.fixture
def empty_app(make_app):
    return make_app(AUTH="on", ALLOWED_HOSTS="localhost,127.0.0.1,clipper.lan")


def test_first_run_setup_makes_the_admin_and_signs_in(empty_app):
    client = empty_app.test_client()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/setup"
    response = client.post("/setup", data={"name": "alice", "password": "short", "confirm": "short"})
    assert response.status_code == 400 and "at least 8 characters" in response.get_data(as_text=True)
    response = client.post("/setup", data={"name": "alice", "password": "long-enough", "confirm": "different!"})
    assert response.status_code == 400 and "The two passwords differ." in response.get_data(as_text=True)
    response = client.post("/setup", data={"name": "alice", "password": "long-enough", "confirm": "long-enough"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert "you are this app&#39;s admin" in html and 'href="/accounts"' in html
    # only once: afterwards the page is gone, for everyone
    assert client.get("/setup").status_code == 404
    assert app_users(empty_app) == [("alice", "admin")]
    assert empty_app.test_client().post("/setup", data={"name": "eve", "password": "long-enough",
                                                        "confirm": "long-enough"}).status_code == 404


def app_users(app) -> list[tuple[str, str]]:
    connection = connect(app)
    try:
        return [(row["name"], row["role"]) for row in db.list_users(connection)]
    finally:
        connection.close()


@pytest.mark.parametrize("request_args", [
    {"environ_base": {"REMOTE_ADDR": "192.168.1.7"}},  # another machine
    {"headers": {"X-Forwarded-For": "203.0.113.5"}},  # through a proxy on this machine
    {"base_url": "http://clipper.lan:5001"},  # by a name others use
])
def test_setup_is_only_for_this_machine(empty_app, request_args):
    client = empty_app.test_client()
    assert client.get("/setup", **request_args).status_code == 404
    response = client.post("/setup", data={"name": "eve", "password": "long-enough", "confirm": "long-enough"},
                           **request_args)
    assert response.status_code == 404 and app_users(empty_app) == []
    response = client.get("/", **request_args)
    assert response.status_code == 503 and "flask --app app users create NAME --admin" in response.get_data(as_text=True)
    response = client.get("/api/jobs", **request_args)
    assert response.status_code == 401 and "users create" in response.get_json()["error"]


def test_no_setup_page_when_sign_in_is_off(make_app):
    assert make_app().test_client().get("/setup").status_code == 404


# --- API tokens ------------------------------------------------------------------------------------

def test_api_tokens_open_the_api_and_stream_until_revoked(app):
    job_id = add_processed_job(app)
    (app.config["SETTINGS"].download_dir / str(job_id) / "transcript.srt").write_text("1\n")
    browser = sign_in(app, "bob")
    token = new_token(browser, "backup script")
    assert token.startswith("clipper_") and len(token) > 40
    page = browser.get("/account").get_data(as_text=True)
    assert token not in page and "backup script" in page  # shown once, when made

    script = app.test_client()  # no cookie: the token alone
    assert script.get("/api/jobs", headers=bearer(token)).status_code == 200
    response = script.post("/api/jobs", json={"url": "http://example.com/new"}, headers=bearer(token))
    assert response.status_code == 201 and response.get_json()["jobs"][0]["submitted_by"] == "bob"
    assert script.get("/events?poll=1", headers=bearer(token)).status_code == 200
    assert script.get(f"/jobs/{job_id}/transcript.srt", headers=bearer(token)).status_code == 200
    assert script.get("/", headers=bearer(token)).status_code == 302  # pages need a browser sign-in
    for bad in ("clipper_not-a-token", "nonsense", token + "x"):
        response = script.get("/api/jobs", headers=bearer(bad))
        assert response.status_code == 401 and "not valid" in response.get_json()["error"]

    token_id = int(re.search(r'data-token-id="(\d+)"', page).group(1))
    assert app.test_client().post(f"/account/tokens/{token_id}/revoke").status_code == 302  # not signed in: nothing
    assert script.get("/api/jobs", headers=bearer(token)).status_code == 200
    assert sign_in(app, "alice").post(f"/account/tokens/{token_id}/revoke").status_code == 302  # not hers
    assert script.get("/api/jobs", headers=bearer(token)).status_code == 200
    browser.post(f"/account/tokens/{token_id}/revoke")
    assert script.get("/api/jobs", headers=bearer(token)).status_code == 401
    assert script.get("/events?poll=1", headers=bearer(token)).status_code == 401


def test_tokens_are_stored_hashed_and_die_with_their_account(app):
    token = new_token(sign_in(app, "bob"))
    connection = connect(app)
    stored = connection.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    dump = "\n".join(connection.iterdump())
    assert token not in dump and len(stored) == 64
    accounts.delete_user(connection, accounts.find_user(connection, "bob"))
    connection.close()
    assert app.test_client().get("/api/jobs", headers=bearer(token)).status_code == 401


def test_another_authorization_scheme_is_left_to_a_proxy(app):
    """A proxy in front may use Basic auth; its header is not a wrong token, and a session still works."""
    client = sign_in(app, "bob")
    assert client.get("/api/jobs", headers={"Authorization": "Basic Ym9iOnB3"}).status_code == 200


# --- roles -----------------------------------------------------------------------------------------

def test_members_change_only_their_own_jobs_through_the_api(app):
    alice, bob = sign_in(app, "alice"), sign_in(app, "bob")
    hers = alice.post("/api/jobs", json={"url": "http://example.com/hers"}).get_json()["jobs"][0]["id"]
    his = bob.post("/api/jobs", json={"url": "http://example.com/his"}).get_json()["jobs"][0]["id"]
    for method, path in (("post", f"/api/jobs/{hers}/cancel"), ("post", f"/api/jobs/{hers}/retry"),
                         ("delete", f"/api/jobs/{hers}")):
        kwargs = {"json": {}} if method == "post" else {}
        response = getattr(bob, method)(path, **kwargs)
        assert response.status_code == 403, path
        assert response.get_json()["error"] == f"You may {path.rsplit('/', 1)[-1] if method == 'post' else 'delete'} only jobs you submitted: alice submitted it (job {hers})."
    assert bob.get(f"/api/jobs/{hers}").status_code == 200  # everyone sees the shared queue
    assert bob.post(f"/api/jobs/{his}/cancel", json={}).status_code == 202
    assert bob.delete(f"/api/jobs/{his}").status_code == 204
    assert alice.delete(f"/api/jobs/{hers}").status_code == 204
    other = bob.post("/api/jobs", json={"url": "http://example.com/his-too"}).get_json()["jobs"][0]["id"]
    assert alice.delete(f"/api/jobs/{other}").status_code == 204  # an admin may delete anything
    assert job_count(app) == 0


def test_search_and_the_clips_need_a_sign_in_or_an_api_token(app):
    from tests.test_app_clips import add_clip
    job_id = add_processed_job(app)
    clip_id = add_clip(app, job_id)
    stranger = app.test_client()
    for path in ("/search?q=tomatoes", "/clips", f"/clips/zip?ids={clip_id}"):
        assert stranger.get(path).headers["Location"].startswith("/login"), path
    for method, path, body in (("get", "/api/search?q=tomatoes", None), ("get", "/api/clips", None),
                               ("post", "/api/clips/zip", {"ids": [clip_id]})):
        response = getattr(stranger, method)(path, json=body)
        assert response.status_code == 401 and "Bearer" in response.get_json()["error"], path
    assert "Search transcripts" not in stranger.get("/login").get_data(as_text=True)  # no box before signing in

    bob = sign_in(app, "bob")  # a member: the library is everyone's to read
    assert "<mark>Tomatoes</mark>" in bob.get("/search?q=tomatoes").get_data(as_text=True)
    assert f'data-clip-id="{clip_id}"' in bob.get("/clips").get_data(as_text=True)
    assert bob.get(f"/clips/zip?ids={clip_id}").mimetype == "application/zip"
    script = app.test_client()
    token = new_token(bob)
    assert script.get("/api/search?q=tomatoes", headers=bearer(token)).get_json()["hits"][0]["job_id"] == job_id
    assert script.get("/api/clips", headers=bearer(token)).get_json()["clips"][0]["id"] == clip_id
    response = script.post("/api/clips/zip", json={"ids": [clip_id]}, headers=bearer(token))
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert script.get("/clips", headers=bearer(token)).status_code == 302  # pages need a browser sign-in


def test_members_may_clip_any_processed_job(app):
    job_id = add_processed_job(app)
    response = sign_in(app, "bob").post(f"/api/jobs/{job_id}/clips", json={"start": 1, "end": 5})
    assert response.status_code == 202


def test_only_admins_see_and_change_settings_through_the_api(app):
    bob, alice = sign_in(app, "bob"), sign_in(app, "alice")
    assert bob.get("/api/settings").status_code == 403
    response = bob.patch("/api/settings", json={"DIARIZATION_BACKEND": "embedded"})
    assert response.status_code == 403 and response.get_json() == {"error": "Only an admin may do this."}
    assert alice.get("/api/settings").status_code == 200
    assert alice.patch("/api/settings", json={"DIARIZATION_BACKEND": "embedded"}).get_json()["changed"] == [
        "DIARIZATION_BACKEND"]
    token = new_token(bob)
    assert app.test_client().get("/api/settings", headers=bearer(token)).status_code == 403


def test_members_cannot_open_settings_or_accounts_pages(app):
    bob = sign_in(app, "bob")
    for path in ("/settings", "/accounts"):
        response = bob.get(path)
        assert response.status_code == 403 and "Only an admin may do this." in response.get_data(as_text=True)
    assert bob.post("/settings", data={"DIARIZATION_BACKEND": "embedded"}).status_code == 403
    assert bob.post("/accounts", data={"name": "mallory", "password": "long-enough", "confirm": "long-enough",
                                       "role": "admin"}).status_code == 403
    html = bob.get("/").get_data(as_text=True)
    assert 'href="/settings"' not in html and 'href="/accounts"' not in html
    assert app_users(app) == [("alice", "admin"), ("bob", "member")]


def test_a_member_cannot_delete_another_members_job_with_the_form(app):
    alice, bob = sign_in(app, "alice"), sign_in(app, "bob")
    alice.post("/jobs", data={"urls": "http://example.com/hers"})
    hers = alice.get("/api/jobs").get_json()["jobs"][0]["id"]
    details = bob.get(f"/jobs/{hers}").get_data(as_text=True)
    assert "submitted by alice" in details and 'id="job-actions"' not in details  # no Delete button for him
    response = bob.post("/jobs/delete", data={"job_ids": str(hers)}, follow_redirects=True)
    assert "You may delete only jobs you submitted: alice submitted it" in response.get_data(as_text=True)
    assert bob.post(f"/jobs/{hers}/cancel", follow_redirects=True).status_code == 200
    assert alice.get(f"/api/jobs/{hers}").get_json()["status"] == "Queued"
    assert job_count(app) == 1
    assert 'id="job-actions"' in alice.get(f"/jobs/{hers}").get_data(as_text=True)


def test_jobs_record_who_submitted_them(app):
    bob = sign_in(app, "bob")
    bob.post("/jobs", data={"urls": "http://example.com/form"})
    bob.post("/api/jobs", json={"url": "http://example.com/api"})
    listed = {job["url"]: job for job in bob.get("/api/jobs").get_json()["jobs"]}
    assert {job["submitted_by"] for job in listed.values()} == {"bob"}
    connection = connect(app)
    assert {row["user_id"] for row in connection.execute("SELECT user_id FROM jobs")} == {user_id(app, "bob")}
    accounts.delete_user(connection, accounts.find_user(connection, "bob"))
    connection.close()
    jobs = sign_in(app, "alice").get("/api/jobs").get_json()["jobs"]
    assert len(jobs) == 2 and {job["submitted_by"] for job in jobs} == {None}  # the jobs stay


def test_with_sign_in_off_everyone_may_do_everything_as_before(make_app):
    app = make_app()
    client = app.test_client()
    job_id = client.post("/api/jobs", json={"url": "http://example.com/a"}).get_json()["jobs"][0]["id"]
    assert client.get(f"/api/jobs/{job_id}").get_json()["submitted_by"] is None
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-actions"' in html and "Sign out" not in html and 'href="/settings"' in html
    assert client.get("/settings").status_code == 200 and client.get("/api/settings").status_code == 200
    assert client.get("/account").status_code == 404
    assert client.get("/login").status_code == 302
    assert client.delete(f"/api/jobs/{job_id}").status_code == 204


# --- CSRF --------------------------------------------------------------------------------------------

def test_csrf_rules_are_unchanged_for_signed_in_browsers(make_app):
    app = make_app(csrf=True, AUTH="on")
    connection = connect(app)
    accounts.create_user(connection, "bob", PASSWORDS["bob"], "member")
    connection.close()
    client = app.test_client()
    # the sign-in form itself needs the page's token (login CSRF)
    assert client.post("/login", data={"name": "bob", "password": PASSWORDS["bob"]}).status_code == 400
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"name": "bob", "password": PASSWORDS["bob"], "csrf_token": token})
    assert response.status_code == 302
    token = CSRF_META.search(client.get("/").get_data(as_text=True)).group(1)  # a new session, a new token
    assert client.post("/jobs", data={"urls": "http://example.com/a"}).status_code == 400
    assert client.post("/jobs", data={"urls": "http://example.com/a", "csrf_token": "forged"}).status_code == 400
    assert client.post("/logout").status_code == 400  # a forged sign-out too
    assert client.post("/jobs", data={"urls": "http://example.com/a", "csrf_token": token}).status_code == 302
    # the API keeps its own rule: a JSON body (no form token needed), never a form post
    assert client.post("/api/jobs", data={"url": "http://example.com/b"}).status_code == 415
    assert client.patch("/api/settings", data="{}", content_type="text/plain").status_code == 415
    assert client.post("/api/jobs", json={"url": "http://example.com/b"}).status_code == 201
    assert job_count(app) == 2
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302



def test_members_name_speakers_only_in_their_own_jobs_and_only_admins_rename_people(app):
    job_id = add_processed_job(app)
    bob, alice = sign_in(app, "bob"), sign_in(app, "alice")
    response = bob.put(f"/api/jobs/{job_id}/speakers/SPEAKER_00", json={"name": "Diane"})
    assert response.status_code == 403
    assert response.get_json()["error"] == f"You may name speakers in only jobs you submitted: no current account submitted it (job {job_id})."
    assert "Name of SPEAKER_00" not in bob.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert alice.put(f"/api/jobs/{job_id}/speakers/SPEAKER_00", json={"name": "Diane"}).status_code == 200
    assert "Name of SPEAKER_00" in alice.get(f"/jobs/{job_id}").get_data(as_text=True)
    person = bob.get("/api/people").get_json()["people"][0]
    assert person["name"] == "Diane"  # everyone sees who is named
    assert bob.patch(f"/api/people/{person['id']}", json={"name": "Di"}).status_code == 403
    assert "Rename" not in bob.get("/people/").get_data(as_text=True)
    assert alice.patch(f"/api/people/{person['id']}", json={"name": "Di"}).get_json()["name"] == "Di"
