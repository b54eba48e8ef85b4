"""Accounts: who may sign in, with which password, sessions and API tokens; and the sign-in throttle.

Passwords are hashed with werkzeug's scrypt default. Session ids and API tokens are random 256-bit
strings, so a fast SHA-256 of them is what is stored: it cannot be reversed, and looking one up costs
nothing per request (a password-style slow hash is for secrets people choose).
"""
from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

import db

ROLES = ("admin", "member")
MAX_FAILURES = 5  # failed sign-ins per account name and per client address ...
FAILURE_WINDOW = 15 * 60  # ... within this many seconds; then attempts wait
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing is deliberately slow: bound the work one request can ask for
TOKEN_PREFIX = "clipper_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@functools.cache
def _unknown_user_hash() -> str:
    """Checked when the name is unknown, so a wrong name costs as long as a wrong password."""
    return generate_password_hash(secrets.token_hex(16))


class AccountError(Exception):
    """Something about an account a person asked for that cannot be done; the message says why."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Throttled(Exception):
    """Too many failed sign-ins: the next attempt may come after `retry_after` seconds."""

    def __init__(self, retry_after: int):
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.")
        self.retry_after = retry_after


WRONG_CREDENTIALS = "Wrong name or password."  # the same for an unknown name: names are not revealed


@dataclass(frozen=True)
class User:
    id: int | None
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def from_row(cls, row) -> "User":
        return cls(row["id"], row["name"], row["role"])


# Who acts when sign-in is off: the app is as open as it was before accounts existed.
NOBODY = User(None, "local user (sign-in off)", "admin")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise AccountError("A name is 1 to 64 letters, digits, dots, dashes, underscores or @, starting with a letter or digit.")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise AccountError(f"A password needs at least {MIN_PASSWORD} characters (at most {MAX_PASSWORD}).")
    return password


def create_user(connection, name: str, password: str, role: str = "member") -> User:
    name, password = check_name(name), check_password(password)
    if role not in ROLES:
        raise AccountError(f"A role is {' or '.join(ROLES)}.")
    if db.user_by_name(connection, name):
        raise AccountError(f"There is already an account named {name!r}.", 409)
    user_id = db.create_user(connection, name, generate_password_hash(password), role)
    return User(user_id, name, role)


def find_user(connection, name: str) -> User:
    row = db.user_by_name(connection, (name or "").strip())
    if row is None:
        raise AccountError(f"There is no account named {name!r}.", 404)
    return User.from_row(row)


def set_password(connection, user: User, password: str) -> None:
    """A new password signs the account out everywhere and lifts its sign-in throttle."""
    password = check_password(password)
    with db.transaction(connection):
        db.set_password_hash(connection, user.id, generate_password_hash(password))
        db.delete_sessions(connection, user_id=user.id)
        db.clear_sign_in_failures(connection, [_name_key(user.name)])


def change_own_password(connection, user: User, current: str, new: str) -> None:
    row = db.get_user(connection, user.id)
    if row is None or not check_password_hash(row["password_hash"], current or ""):
        raise AccountError("The current password is not right.")
    set_password(connection, user, new)


def _other_admins(connection, user: User) -> int:
    return db.count_users(connection, "admin") - (1 if user.is_admin else 0)


def set_role(connection, user: User, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"A role is {' or '.join(ROLES)}.")
    if role != "admin" and user.is_admin and _other_admins(connection, user) == 0:
        raise AccountError(f"{user.name} is the only admin; make someone else admin first.", 409)
    db.set_role(connection, user.id, role)


def delete_user(connection, user: User) -> None:
    """Delete an account with its sessions and tokens; the last admin stays while others have accounts."""
    if user.is_admin and _other_admins(connection, user) == 0 and db.count_users(connection) > 1:
        raise AccountError(f"{user.name} is the only admin; make someone else admin first.", 409)
    db.delete_user(connection, user.id)


# --- signing in ----------------------------------------------------------------

def _name_key(name: str) -> str:
    return f"name:{name.strip().lower()}"


def _throttle_keys(name: str, address: str) -> list[str]:
    return [_name_key(name), f"address:{address}"]


def _check_throttle(connection, keys: list[str]) -> None:
    """Throttled when any key has MAX_FAILURES within the window; it waits until the oldest of them expires."""
    now = time.time()
    waits = []
    for key in keys:
        failures = db.sign_in_failures(connection, key, now - FAILURE_WINDOW)
        if len(failures) >= MAX_FAILURES:
            waits.append(failures[-MAX_FAILURES] + FAILURE_WINDOW - now)
    if waits:
        raise Throttled(max(1, int(max(waits)) + 1))


def sign_in(connection, name: str, password: str, address: str) -> User:
    """The user whose name and password these are; AccountError (the same for any mistake) or Throttled."""
    keys = _throttle_keys(name or "", address)
    _check_throttle(connection, keys)
    row = db.user_by_name(connection, (name or "").strip()) if len(password or "") <= MAX_PASSWORD else None
    if row is None:
        check_password_hash(_unknown_user_hash(), (password or "")[:MAX_PASSWORD])
    if row is None or not check_password_hash(row["password_hash"], password or ""):
        db.add_sign_in_failure(connection, keys, FAILURE_WINDOW)
        raise AccountError(WRONG_CREDENTIALS, 401)
    db.clear_sign_in_failures(connection, keys)
    return User.from_row(row)


def start_session(connection, user: User) -> str:
    """A new session for the user; the returned id goes into the (signed) cookie, its hash into the database."""
    session_id = secrets.token_urlsafe(32)
    db.create_session(connection, user.id, _hash(session_id))
    return session_id


def session_user(connection, session_id: str, lifetime_days: float) -> User | None:
    """Whose session this is, if it has not outlived the session lifetime (read anew: it may change)."""
    row = db.session_user(connection, _hash(session_id), time.time() - lifetime_days * 86400)
    return User.from_row(row) if row else None


def end_session(connection, session_id: str) -> None:
    db.delete_session(connection, _hash(session_id))


def forget_old_sessions(connection, lifetime_days: float) -> None:
    db.delete_sessions(connection, before=time.time() - lifetime_days * 86400)


# --- API tokens ------------------------------------------------------------------

def create_token(connection, user: User, name: str) -> str:
    """A new token for the user, returned once: only its hash is kept."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise AccountError("Give the token a name (up to 100 characters), e.g. the script that uses it.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.create_token(connection, user.id, name, _hash(token))
    return token


def token_user(connection, token: str) -> User | None:
    row = db.token_user(connection, _hash(token)) if token.startswith(TOKEN_PREFIX) else None
    return User.from_row(row) if row else None


def revoke_token(connection, user: User, token_id: int) -> None:
    if not db.delete_token(connection, user.id, token_id):
        raise AccountError("You have no such token.", 404)
