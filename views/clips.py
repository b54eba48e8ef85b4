"""The clips page: every video's clips, newest first, with filters; several downloaded as one zip."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

import clips
import db
from jobs import UserError
from views.files import zip_of_clips

bp = Blueprint("clips", __name__)
PAGE_SIZE = 30
FILTERS = ("job", "status", "captions", "vertical")


def _kept(*names: str) -> dict:
    """The request's non-empty values of these names: what links and redirects carry along."""
    return {name: request.args[name] for name in names if request.args.get(name)}


@bp.get("/clips")
def index():
    connection = db.get_db()
    page = max(request.args.get("page", 1, type=int), 1)
    try:
        filters, error = clips.parse_filters(connection, request.args), None
    except UserError as exc:
        filters, error = clips.ClipFilters(), exc
    total = db.count_clips(connection, **asdict(filters))
    rows = db.list_clips(connection, **asdict(filters), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "clips/index.html", clips=rows, total=total, page=page, pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        filters=filters, kept=_kept(*FILTERS) if error is None else {}, videos=db.jobs_with_clips(connection),
        statuses=clips.STATUSES, error=error,
    ), error.status if error else 200


@bp.get("/clips/zip")
def download_zip():
    """The selected clips as one zip; anything that cannot be sent is said on the clips page instead."""
    try:
        files = clips.open_for_zip(db.get_db(), current_app.config["SETTINGS"], request.args.getlist("ids"))
    except UserError as error:
        flash(str(error), "danger")
        return redirect(url_for("clips.index", **_kept(*FILTERS, "page")))
    return zip_of_clips(files)
