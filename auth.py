"""Who is asking, and what they may do: the signed-in browser (session cookie) or an API token.

With sign-in off (AUTH=auto on a loopback address, or AUTH=off) every request acts as
accounts.NOBODY, an admin: the app behaves as it did before accounts existed.
"""
from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone

from flask import (Flask, abort, current_app, g, jsonify, redirect, render_template, request, session,
                   url_for)
from flask.sessions import SecureCookieSessionInterface

import accounts
import db
import jobs
import settings_store
from accounts import NOBODY, User
from security import host_name

# Open to anyone: the sign-in and first-run pages and the static files they need.
PUBLIC_ENDPOINTS = {"static", "auth.sign_in", "auth.setup"}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]"}
CSRF_REFUSED = "The form expired or did not come from this app; reload the page and try again."


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie: Secure whenever the request came over https, and (once signed in) kept for
    the session lifetime the settings say now; the sessions table decides whether it is still good."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def get_expiration_time(self, app: Flask, session) -> datetime | None:
        if not session.permanent or "since" not in session:
            return None
        lifetime = timedelta(days=settings_store.for_request().session_lifetime_days)
        return datetime.fromtimestamp(session["since"], timezone.utc) + lifetime


def current_user() -> User:
    return g.user


def is_local_request() -> bool:
    """From this machine, straight to the app: loopback address and name, and no proxy in between."""
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    if host_name(request.headers.get("Host", "")) not in LOOPBACK_NAMES:
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _takes_tokens() -> bool:
    """API tokens open the API, the live stream, and the files the API links to."""
    return request.path.startswith("/api/") or request.path == "/events" or request.blueprint == "files"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/events"


def _unauthorized(message: str):
    response = jsonify(error=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="clipper"'
    return response


def identify():
    """Before each request: find the user; send anyone else to sign in (or to first-run setup)."""
    g.by_token = False
    if not current_app.config["SETTINGS"].sign_in_required:
        g.user = NOBODY
        return None
    g.user = None
    connection = db.get_db()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _takes_tokens():  # other schemes (a proxy's Basic) are not ours
        g.user = accounts.token_user(connection, token.strip())
        g.by_token = g.user is not None
        return None if g.user else _unauthorized("This API token is not valid: it was revoked or never issued.")
    if "sid" in session:
        lifetime = settings_store.for_request().session_lifetime_days
        g.user = accounts.session_user(connection, session["sid"], lifetime)
        if g.user is None:  # signed out elsewhere, expired, password changed or account deleted
            session.clear()
    if g.user or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if db.count_users(connection) == 0:
        return _no_account_yet()
    if _wants_json():
        return _unauthorized("Sign in, or send an API token: Authorization: Bearer <token>.")
    return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))


def _no_account_yet():
    if is_local_request() and not _wants_json():
        return redirect(url_for("auth.setup"))
    message = ("Sign-in is required and there is no account yet: create one on the server with "
               "`flask --app app users create NAME --admin`, or open this app from the server itself.")
    if _wants_json():
        return _unauthorized(message)
    return render_template("pages/message.html", title="No account yet", message=message), 503


def by_token() -> bool:
    """Whether an API token, not a browser's cookie, says who is asking: such a request cannot be
    forged by another site, so it needs no CSRF token."""
    return g.get("by_token", False)


def require_admin() -> None:
    if not g.user.is_admin:
        abort(403, "Only an admin may do this.")


def _forbidden(error):
    message = error.description or "You may not do this."
    if _wants_json():
        return jsonify(error=message), 403
    return render_template("pages/message.html", title="Not allowed", message=message), 403


def init_app(app: Flask) -> None:
    """Call after security.init_app (a refused host meets no other hook) and before the views' hooks."""
    app.session_interface = SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_REFRESH_EACH_REQUEST=False,
                      # The cookie's signature may be old; the sessions table says how long a sign-in lasts.
                      PERMANENT_SESSION_LIFETIME=timedelta(days=3650))
    app.before_request(identify)
    app.register_error_handler(403, _forbidden)

    @app.context_processor
    def user_in_templates():
        return {"current_user": g.get("user"), "may_change_job": lambda job: jobs.may_change(g.user, job),
                "sign_in_required": app.config["SETTINGS"].sign_in_required}
