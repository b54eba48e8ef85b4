"""Accounts, for admins: who can sign in, with which role."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

import accounts
import db
from accounts import AccountError
from auth import require_admin

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.before_request
def admins_only():
    require_admin()


def _render(form=None, status: int = 200):
    return render_template("accounts/users.html", users=db.list_users(db.get_db()), form=form or {}), status


def _user(user_id: int) -> accounts.User:
    row = db.get_user(db.get_db(), user_id)
    if row is None:
        raise AccountError("There is no such account.", 404)
    return accounts.User.from_row(row)


@bp.get("")
def users():
    return _render()


@bp.post("")
def create():
    form = request.form
    try:
        if form.get("password", "") != form.get("confirm", ""):
            raise AccountError("The two passwords differ.")
        user = accounts.create_user(db.get_db(), form.get("name", ""), form.get("password", ""),
                                    "admin" if form.get("role") == "admin" else "member")
    except AccountError as error:
        flash(str(error), "danger")
        return _render({"name": form.get("name", ""), "role": form.get("role", "member")}, error.status)
    flash(f"Account {user.name} ({user.role}) created; give them their password.", "success")
    return redirect(url_for("accounts.users"))


@bp.post("/<int:user_id>/role")
def set_role(user_id: int):
    try:
        user = _user(user_id)
        accounts.set_role(db.get_db(), user, request.form.get("role", ""))
        flash(f"{user.name} is now {request.form['role']}.", "success")
    except AccountError as error:
        flash(str(error), "danger")
    return redirect(url_for("accounts.users"))


@bp.post("/<int:user_id>/delete")
def delete(user_id: int):
    try:
        user = _user(user_id)
        if user.id == g.user.id:
            raise AccountError("You cannot delete your own account here; another admin can.", 409)
        accounts.delete_user(db.get_db(), user)
        flash(f"Account {user.name} deleted; its jobs stay.", "success")
    except AccountError as error:
        flash(str(error), "danger")
    return redirect(url_for("accounts.users"))
