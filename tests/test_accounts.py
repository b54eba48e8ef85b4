"""Accounts: the `flask users` commands, the Accounts page, a person's own password, and the refusal to
start beyond loopback without one."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import accounts
import db
from accounts import AccountError
from tests.conftest import REPO, free_port
from tests.test_app_api import connect, make_app  # noqa: F401
from tests.test_auth import app, app_users, sign_in, user_id  # noqa: F401


def run(app, *args, input: str | None = None):
    return app.test_cli_runner().invoke(args=["users", *args], input=input)


# --- the commands ------------------------------------------------------------------------------------

def test_users_create_list_set_password_and_delete(make_app):
    app = make_app(AUTH="on")
    result = run(app, "create", "ann", "--admin", input="ann-secret-1\n")
    assert result.exit_code == 0 and result.output == "Created the admin account ann.\n"
    assert run(app, "create", "ben", input="ben-secret-1\n").output == "Created the member account ben.\n"
    listed = run(app, "list").output.splitlines()
    assert [line.split()[:2] for line in listed] == [["ann", "admin"], ["ben", "member"]]
    assert "last sign-in never" in listed[0]
    sign_in(app, "ann", "ann-secret-1")

    result = run(app, "set-password", "ann", input="ann-secret-2\n")
    assert result.exit_code == 0 and "New password set for ann" in result.output
    assert app.test_client().post("/login", data={"name": "ann", "password": "ann-secret-1"}).status_code == 401
    sign_in(app, "ann", "ann-secret-2")

    assert run(app, "set-role", "ben", "admin").output == "ben is now admin.\n"
    result = run(app, "delete", "ben", "--yes")
    assert result.exit_code == 0 and app_users(app) == [("ann", "admin")]
    assert "secret" not in run(app, "list").output


@pytest.mark.parametrize("args, input, message", [
    (("create", "ann"), "short\n", "A password needs at least 8 characters"),
    (("create", "bad name"), "long-enough\n", "A name is 1 to 64 letters"),
    (("create", "Alice"), "long-enough\n", "There is already an account named 'Alice'."),  # names ignore case
    (("delete", "nobody", "--yes"), None, "There is no account named 'nobody'."),
    (("set-password", "nobody"), "long-enough\n", "There is no account named 'nobody'."),
    (("set-role", "alice", "member"), None, "alice is the only admin; make someone else admin first."),
    (("delete", "alice", "--yes"), None, "alice is the only admin; make someone else admin first."),
])
def test_users_commands_refuse_with_one_line(app, args, input, message):
    result = run(app, *args, input=input)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}" or message in result.output
    assert "Traceback" not in result.output
    assert app_users(app) == [("alice", "admin"), ("bob", "member")]


def test_the_real_command_reads_the_password_from_stdin_and_never_prints_it(tmp_path):
    env = {**os.environ, "DATABASE_PATH": str(tmp_path / "instance" / "videos.db"),
           "DOWNLOAD_DIR": str(tmp_path / "downloads"), "PROCESSED_CLIPS_DIR": str(tmp_path / "clips"),
           "FLASK_SKIP_DOTENV": "1"}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "users", "create", "root", "--admin"],
                          cwd=REPO, env=env, input="a-secret-password\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Created the admin account root.\n"
    assert "a-secret-password" not in done.stdout + done.stderr
    listed = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "users", "list"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.stdout.split()[:2] == ["root", "admin"]


def test_app_refuses_to_start_beyond_loopback_without_an_account(tmp_path):
    env = {**os.environ, "HOST": "0.0.0.0", "PORT": str(free_port()),
           "DATABASE_PATH": str(tmp_path / "instance" / "videos.db"),
           "DOWNLOAD_DIR": str(tmp_path / "downloads"), "PROCESSED_CLIPS_DIR": str(tmp_path / "clips")}
    done = subprocess.run([sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["Sign-in is required on 0.0.0.0 and there is no account yet: create one with "
                     "`flask --app app users create NAME --admin`, then start again."]
    assert "Serving on" not in done.stdout


# --- the Accounts page --------------------------------------------------------------------------------

def test_admin_creates_changes_and_deletes_accounts(app):
    alice = sign_in(app, "alice")
    page = alice.get("/accounts").get_data(as_text=True)
    assert 'data-user="alice"' in page and 'data-user="bob"' in page
    response = alice.post("/accounts", data={"name": "carol", "password": "carol-pass", "confirm": "carol-pass",
                                             "role": "member"}, follow_redirects=True)
    assert "Account carol (member) created" in response.get_data(as_text=True)
    sign_in(app, "carol", "carol-pass")
    response = alice.post("/accounts", data={"name": "carol", "password": "carol-pass", "confirm": "carol-pass"})
    assert response.status_code == 409 and "There is already an account named" in response.get_data(as_text=True)

    carol = user_id(app, "carol")
    alice.post(f"/accounts/{carol}/role", data={"role": "admin"})
    assert ("carol", "admin") in app_users(app)
    carol_browser = sign_in(app, "carol", "carol-pass")
    alice.post(f"/accounts/{carol}/delete")
    assert [name for name, _ in app_users(app)] == ["alice", "bob"]
    assert carol_browser.get("/").status_code == 302  # a deleted account is signed out at once


def test_admin_cannot_delete_themselves_or_leave_no_admin(app):
    alice = sign_in(app, "alice")
    alice_id = user_id(app, "alice")
    response = alice.post(f"/accounts/{alice_id}/delete", follow_redirects=True)
    assert "You cannot delete your own account here" in response.get_data(as_text=True)
    response = alice.post(f"/accounts/{alice_id}/role", data={"role": "member"}, follow_redirects=True)
    assert "alice is the only admin" in response.get_data(as_text=True)
    assert app_users(app) == [("alice", "admin"), ("bob", "member")]


def test_accounts_module_rules(app):
    connection = connect(app)
    with pytest.raises(AccountError, match="A role is admin or member"):
        accounts.create_user(connection, "dan", "long-enough", "owner")
    with pytest.raises(AccountError, match="at most 1024"):
        accounts.create_user(connection, "dan", "x" * 1025)
    bob = accounts.find_user(connection, "BOB")  # names ignore case
    assert bob.name == "bob" and not bob.is_admin
    accounts.delete_user(connection, accounts.find_user(connection, "bob"))
    accounts.delete_user(connection, accounts.find_user(connection, "alice"))  # the last account may go
    assert db.count_users(connection) == 0
    connection.close()


# --- a person's own account ---------------------------------------------------------------------------

def test_changing_your_password_keeps_you_in_and_signs_out_other_browsers(app):
    laptop, phone = sign_in(app, "bob"), sign_in(app, "bob")
    response = laptop.post("/account/password", data={"current": "wrong", "new": "new-password", "confirm": "new-password"})
    assert response.status_code == 400 and "The current password is not right." in response.get_data(as_text=True)
    response = laptop.post("/account/password", data={"current": "bob-password", "new": "new-password",
                                                      "confirm": "new-passwort"})
    assert response.status_code == 400 and "The two new passwords differ." in response.get_data(as_text=True)
    response = laptop.post("/account/password", data={"current": "bob-password", "new": "new-password",
                                                      "confirm": "new-password"}, follow_redirects=True)
    assert "Your password is changed" in response.get_data(as_text=True)
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    sign_in(app, "bob", "new-password")


def test_the_account_page_lists_tokens_and_never_their_values(app):
    bob = sign_in(app, "bob")
    assert bob.post("/account/tokens", data={"name": " "}).status_code == 400
    made = bob.post("/account/tokens", data={"name": "nightly export"}).get_data(as_text=True)
    assert "copy it now, it is not shown again" in made
    page = bob.get("/account").get_data(as_text=True)
    assert "nightly export" in page and "clipper_" not in page and "never" in page
    assert "nightly export" not in sign_in(app, "alice").get("/account").get_data(as_text=True)
