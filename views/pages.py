"""The HTML pages: home (submit and queue), job details, error log."""
from __future__ import annotations

import json
import math

from flask import (Blueprint, abort, current_app, flash, g, get_template_attribute, jsonify, redirect,
                   render_template, request, url_for)
from markupsafe import Markup

import db
import jobs
import settings_store
import speakers
from jobs import UserError
from views import uploading
from views.cache import list_cache
from views.serialize import group_dict, job_dict, overlaps_of

bp = Blueprint("pages", __name__)
PAGE_SIZE = 50
SPEAKER_COLOURS = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#d63384", "#6c757d"]


def _settings():
    return settings_store.for_request()


def _worker():
    return current_app.extensions["worker"]


def _next(default: str) -> str:
    """Where a form asked to go back to, if that is a page of this site; the default otherwise."""
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def _render_home(page: int, form, status: int = 200):
    """The queue page; `form` refills the submit form so nothing typed is lost."""
    connection = db.get_db()

    def job_table() -> dict:  # the part that depends on the jobs only, reused until one changes
        loose_rows = get_template_attribute("pages/_job_row.html", "loose_rows")
        group_rows = get_template_attribute("pages/_job_row.html", "group_rows")
        sections = _sections(db.list_jobs(connection, PAGE_SIZE, (page - 1) * PAGE_SIZE))
        group_ids = [group_id for group_id, _ in sections if group_id]
        groups = db.groups_by_id(connection, group_ids)
        counts = db.group_counts(connection, group_ids)
        html = [group_rows(group_dict(groups[group_id], counts[group_id]), sorted(rows, key=lambda job: job["id"]))
                if group_id in groups else loose_rows(rows) for group_id, rows in sections]
        return {"job_rows": Markup("".join(html)), "total": db.count_jobs(connection),
                "counts": db.queue_counts(connection)}

    table = list_cache().get(("home", db.jobs_version(connection), request.script_root, page), job_table)
    total = table["total"]
    return render_template(
        "pages/home.html", **table, page=page, pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        settings=_settings(), form=form), status


def _sections(rows) -> list[tuple[int | None, list]]:
    """The page's jobs cut into runs: a playlist's jobs (created together, so side by side) and the
    jobs between them that belong to none."""
    sections: list[tuple[int | None, list]] = []
    for row in rows:
        if sections and sections[-1][0] == row["group_id"]:
            sections[-1][1].append(row)
        else:
            sections.append((row["group_id"], [row]))
    return sections


@bp.get("/")
def home():
    return _render_home(max(request.args.get("page", 1, type=int), 1), {})


@bp.post("/jobs")
def submit():
    """Queue the video URLs, or the videos of the playlist or channel."""
    form = request.form
    resolution = form.get("resolution", _settings().default_resolution)
    try:
        speaker_options = jobs.parse_speakers(form)
        if form.get("playlist_url", "").strip():
            if form.get("urls", "").strip():
                raise UserError("Add either video URLs or a playlist, not both at once.")
            queued = jobs.submit_playlist(db.get_db(), _worker(), _settings(), form["playlist_url"], resolution,
                                          speaker_options, g.user.id)
            flash(queued.message, "warning" if queued.more else "success")
            return redirect(url_for("pages.home"))
        job_ids = jobs.submit(db.get_db(), _worker(), _settings(), form.get("urls", ""), resolution, speaker_options,
                              g.user.id)
    except UserError as error:
        flash(str(error), "danger")
        return _render_home(1, form, error.status)
    flash(f"Queued {len(job_ids)} video{'s' if len(job_ids) > 1 else ''}.", "success")
    return redirect(url_for("pages.home"))


@bp.post("/uploads")
def upload():
    """Queue an uploaded video or audio file (multipart, field `file`; see views/uploading.py). Answers
    JSON to the page's script (which shows the upload's progress), a page otherwise."""
    answer_json = request.accept_mimetypes.best == "application/json"
    try:
        job_id = uploading.queue_upload()
    except UserError as error:
        if answer_json:
            return jsonify(error=str(error)), error.status
        flash(str(error), "danger")
        return _render_home(1, {}, error.status)
    job = db.get_job(db.get_db(), job_id)
    if answer_json:
        return jsonify(job_dict(job)), 201
    flash(f"Uploaded '{job['url']}'; it is queued.", "success")
    return redirect(url_for("pages.home"))


@bp.post("/jobs/delete")
def delete():
    try:
        ids = [int(value) for value in request.form.getlist("job_ids")]
        jobs.check_may_change(db.get_db(), g.user, ids, "delete")
        count = jobs.delete(db.get_db(), _worker(), ids)
    except ValueError:
        flash("Job ids must be numbers.", "danger")
    except UserError as error:
        flash(str(error), "danger")
    else:
        flash(f"Deleted {count} job{'s' if count > 1 else ''}.", "success")
    return redirect(_next(url_for("pages.home")))


@bp.post("/jobs/<int:job_id>/retry")
def retry(job_id: int):
    try:
        jobs.check_may_change(db.get_db(), g.user, [job_id], "retry")
        jobs.retry(db.get_db(), _worker(), job_id)
        flash(f"Job {job_id} is queued again.", "success")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(_next(url_for("pages.details", job_id=job_id)))


@bp.post("/jobs/<int:job_id>/cancel")
def cancel(job_id: int):
    try:
        jobs.check_may_change(db.get_db(), g.user, [job_id], "cancel")
        jobs.cancel(db.get_db(), _worker(), job_id)
        flash(f"Job {job_id} is being cancelled.", "success")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(_next(url_for("pages.details", job_id=job_id)))


def _change_group(group_id: int, action: str, change, done: str):
    """Cancel or delete a playlist's jobs (`change`), then say how many (`done` formats the count)."""
    try:
        jobs.check_may_change_group(db.get_db(), g.user, group_id, action)
        count = change(db.get_db(), _worker(), group_id)
        flash(done.format(count=count, s="s" if count > 1 else ""), "success")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(_next(url_for("pages.home")))


@bp.post("/groups/<int:group_id>/cancel")
def cancel_group(group_id: int):
    return _change_group(group_id, "cancel", jobs.cancel_group,
                         "Cancelling the playlist's {count} queued or running video{s}.")


@bp.post("/groups/<int:group_id>/delete")
def delete_group(group_id: int):
    return _change_group(group_id, "delete", jobs.delete_group, "Deleted the playlist's {count} job{s}.")


@bp.post("/jobs/<int:job_id>/clips")
def create_clip(job_id: int):
    """The no-JavaScript path for Create Clip: queue the cut and come back to the page."""
    try:
        jobs.request_clip(db.get_db(), _worker(), _settings(), job_id, request.form)
        flash("The clip is being cut; it appears below when ready.", "success")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(url_for("pages.details", job_id=job_id) + "#clips")


def _speaker_colours(turns, segments) -> dict:
    speakers = sorted({row["speaker"] for row in list(turns) + list(segments)})
    return {speaker: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i, speaker in enumerate(speakers)}


@bp.get("/jobs/<int:job_id>")
def details(job_id: int):
    connection = db.get_db()
    job = db.get_job(connection, job_id)
    if job is None:
        abort(404)
    turns, segments = db.turns_for(connection, job_id), db.segments_for(connection, job_id)
    candidates = [dict(c, reasons=json.loads(c["reasons"])) for c in db.candidates_for(connection, job_id)]
    # The speaker timeline's scale: the video's length, or (unknown for some files) the last turn's end.
    timeline_length = job["duration"] or max((turn["end"] for turn in turns), default=0) or 1
    return render_template(
        "pages/details.html", job=job, turns=turns, segments=segments, candidates=candidates,
        timeline_length=timeline_length,
        clips=db.clips_for(connection, job_id), colours=_speaker_colours(turns, segments),
        overlaps=overlaps_of(turns), names=speakers.display_names(connection, job_id),
        suggestions=speakers.suggestions(connection, job_id),
        clip_range={name: _seconds_arg(name) for name in ("start", "end")},
        timings=json.loads(job["timings"]) if job["timings"] else {}, settings=_settings())


@bp.post("/jobs/<int:job_id>/speakers/<label>")
def name_speaker(job_id: int, label: str):
    """Name a speaker (click its label on the details page); an empty name unnames it."""
    try:
        jobs.check_may_change(db.get_db(), g.user, [job_id], "name speakers in")
        name = speakers.name_speaker(db.get_db(), job_id, label, request.form.get("name"))
        flash(f"{label} is now {name}." if name else f"{label} has no name now.", "success")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(url_for("pages.details", job_id=job_id))


@bp.post("/jobs/<int:job_id>/speakers/<label>/suggestion")
def answer_suggestion(job_id: int, label: str):
    try:
        jobs.check_may_change(db.get_db(), g.user, [job_id], "name speakers in")
        speakers.answer_suggestion(db.get_db(), job_id, label, request.form.get("answer") == "accept")
    except UserError as error:
        flash(str(error), "danger")
    return redirect(url_for("pages.details", job_id=job_id))


def _seconds_arg(name: str) -> float | None:
    """A number of seconds in the query string: a search hit's "clip this" fills in the custom range."""
    value = request.args.get(name, type=float)
    return value if value is not None and math.isfinite(value) else None


@bp.get("/errors")
def errors():
    return render_template("pages/errors.html", jobs=db.failed_jobs(db.get_db()))
