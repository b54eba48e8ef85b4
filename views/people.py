"""The People page: every named person, their videos and speaking time; rename and merge."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

import db
import speakers
from auth import require_admin
from jobs import UserError

bp = Blueprint("people", __name__, url_prefix="/people")


@bp.get("/")
def index():
    connection = db.get_db()
    people = db.list_people(connection)
    return render_template("people/index.html", people=people,
                           videos={person["id"]: db.videos_of_person(connection, person["id"]) for person in people})


@bp.post("/<int:person_id>/rename")
def rename(person_id: int):
    require_admin()
    try:
        speakers.rename_person(db.get_db(), person_id, request.form.get("name"))
        flash("Renamed.", "success")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(url_for("people.index"))


@bp.post("/<int:person_id>/merge")
def merge(person_id: int):
    require_admin()
    try:
        into = int(request.form.get("into", ""))
        speakers.merge_people(db.get_db(), person_id, into)
        flash("Merged: every voice of the two is now one person.", "success")
    except ValueError:
        flash("Choose the person to merge with.", "danger")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(url_for("people.index"))
