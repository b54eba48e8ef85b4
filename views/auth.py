"""Signing in and out, first-run setup, and a person's own account: password and API tokens."""
from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

import accounts
import db
import settings_store
from accounts import AccountError, Throttled
from auth import is_local_request

bp = Blueprint("auth", __name__)


def _next() -> str:
    """Where to go after signing in, if that is a page of this site; the queue otherwise."""
    target = request.values.get("next") or ""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("pages.home")


def _start_session(user: accounts.User) -> None:
    """A fresh cookie for a new sign-in: nothing from before it (a planted session id) carries over."""
    connection = db.get_db()
    accounts.forget_old_sessions(connection, settings_store.for_request().session_lifetime_days)
    session.clear()
    session["sid"] = accounts.start_session(connection, user)
    session["since"] = time.time()
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def sign_in():
    if not current_app.config["SETTINGS"].sign_in_required or g.user:
        return redirect(_next())
    if request.method == "GET":
        return render_template("auth/sign_in.html", name="", next=request.args.get("next", ""))
    name = request.form.get("name", "")
    try:
        user = accounts.sign_in(db.get_db(), name, request.form.get("password", ""), request.remote_addr or "")
    except Throttled as error:
        flash(str(error), "danger")
        response = current_app.make_response(
            (render_template("auth/sign_in.html", name=name, next=request.form.get("next", "")), 429))
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except AccountError as error:
        flash(str(error), "danger")
        return render_template("auth/sign_in.html", name=name, next=request.form.get("next", "")), error.status
    _start_session(user)
    return redirect(_next())


@bp.post("/logout")
def sign_out():
    if "sid" in session:
        accounts.end_session(db.get_db(), session["sid"])
    session.clear()
    if current_app.config["SETTINGS"].sign_in_required:
        flash("You are signed out.", "success")
        return redirect(url_for("auth.sign_in"))
    return redirect(url_for("pages.home"))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """The first admin account, made from the server itself, once; later accounts come from an admin."""
    connection = db.get_db()
    if (not current_app.config["SETTINGS"].sign_in_required or db.count_users(connection) > 0
            or not is_local_request()):
        abort(404)
    if request.method == "GET":
        return render_template("auth/setup.html", name="")
    name, password = request.form.get("name", ""), request.form.get("password", "")
    try:
        if password != request.form.get("confirm", ""):
            raise AccountError("The two passwords differ.")
        with db.transaction(connection):  # two tabs submitting at once make one admin, not two
            if db.count_users(connection) > 0:
                abort(404)
            user = accounts.create_user(connection, name, password, "admin")
    except AccountError as error:
        flash(str(error), "danger")
        return render_template("auth/setup.html", name=name), error.status
    _start_session(user)
    flash(f"Welcome, {user.name}: you are this app's admin. Add accounts for others under Accounts.", "success")
    return redirect(url_for("pages.home"))


# --- a person's own account -----------------------------------------------------------

def _signed_in_user() -> accounts.User:
    if g.user.id is None:
        abort(404)  # sign-in is off: there is no account to show
    return g.user


def _render_account(new_token: str | None = None, status: int = 200):
    user = _signed_in_user()
    return render_template("auth/account.html", user=user, tokens=db.tokens_of(db.get_db(), user.id),
                           new_token=new_token), status


@bp.get("/account")
def account():
    return _render_account()


@bp.post("/account/password")
def change_password():
    user = _signed_in_user()
    try:
        if request.form.get("new", "") != request.form.get("confirm", ""):
            raise AccountError("The two new passwords differ.")
        accounts.change_own_password(db.get_db(), user, request.form.get("current", ""), request.form.get("new", ""))
    except AccountError as error:
        flash(str(error), "danger")
        return _render_account(status=error.status)
    _start_session(user)  # every other browser is signed out; this one stays in
    flash("Your password is changed; other browsers signed in as you are signed out.", "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/tokens")
def create_token():
    user = _signed_in_user()
    try:
        token = accounts.create_token(db.get_db(), user, request.form.get("name", ""))
    except AccountError as error:
        flash(str(error), "danger")
        return _render_account(status=error.status)
    # Shown in this response only (not in a redirect's flash: that would sit in the cookie).
    return _render_account(new_token=token, status=201)


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    try:
        accounts.revoke_token(db.get_db(), _signed_in_user(), token_id)
        flash("The token is revoked: it no longer opens the API.", "success")
    except AccountError as error:
        flash(str(error), "danger")
    return redirect(url_for("auth.account"))
