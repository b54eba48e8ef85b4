"""The Settings page, for admins: the settings that may change while the app runs."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

import db
import settings_store
from auth import require_admin
from config import SECRET_SETTINGS
from settings_store import SettingsInvalid

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.before_request
def admins_only():
    require_admin()


def _render(typed: dict | None = None, errors: dict | None = None, status: int = 200):
    connection = db.get_db()
    return render_template(
        "settings/settings.html", entries=settings_store.entries(current_app.config["SETTINGS"], connection),
        changes=db.settings_changes(connection), typed=typed or {}, errors=errors or {}), status


@bp.get("")
def show():
    return _render()


def _changes_from(form) -> dict[str, str | None]:
    """What the form asks to change. A secret left empty stays as it is (its value is never in the page)."""
    changes = {}
    for entry in settings_store.entries(current_app.config["SETTINGS"], db.get_db()):
        if entry.locked:
            continue  # a disabled field: the browser does not send it
        if entry.secret and form.get(f"clear_{entry.name}"):
            changes[entry.name] = None
        elif entry.secret and form.get(entry.name):
            changes[entry.name] = form[entry.name]
        elif not entry.secret and entry.name in form:
            changes[entry.name] = form[entry.name]
    return changes


def _save(changes: dict[str, str | None]):
    try:
        changed = settings_store.save(current_app.config["SETTINGS"], db.get_db(), changes, g.user.name)
    except SettingsInvalid as error:
        typed = {name: value for name, value in request.form.items() if name not in SECRET_SETTINGS}
        return _render(typed, error.errors, 400)
    if changed:
        flash(f"Saved {', '.join(changed)}. The next job uses the new values; no restart needed.", "success")
    else:
        flash("Nothing changed.", "secondary")
    return redirect(url_for("settings.show"))


@bp.post("")
def save():
    return _save(_changes_from(request.form))


@bp.post("/reset")
def reset():
    """One setting back to its default."""
    return _save({request.form.get("name", ""): None})
