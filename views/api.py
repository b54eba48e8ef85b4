"""The JSON API under /api (described in static/openapi.yaml)."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, abort, current_app, g, jsonify, request
from flask_wtf.csrf import CSRFError

import auth
import clips
import db
import jobs
import search
import settings_store
import speakers
from auth import require_admin
from jobs import UserError
from settings_store import SettingsInvalid
from views import uploading
from views.cache import list_cache
from views.files import zip_of_clips
from views.serialize import (candidate_dict, clip_dict, group_dict, job_dict, library_clip_dict, overlaps_of,
                             person_dict, results_dict, segment_dict, speaker_dict, turn_dict)

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_PAGE = 200


def _settings():
    return settings_store.for_request()


def _worker():
    return current_app.extensions["worker"]


@bp.errorhandler(UserError)
def user_error(error: UserError):
    return jsonify(error=str(error)), error.status


@bp.errorhandler(404)
def not_found(_error):
    return jsonify(error="Not found."), 404


@bp.errorhandler(CSRFError)
def csrf_error(_error):
    """An upload from a signed-in browser without its CSRF token (the rest of the API takes only JSON)."""
    return jsonify(error=auth.CSRF_REFUSED), 400


@bp.errorhandler(400)
def bad_request(error):
    return jsonify(error=getattr(error, "description", "Bad request.")), 400


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise UserError("Send a JSON object with Content-Type: application/json.")
    return data


@bp.get("/jobs")
def list_jobs():
    connection = db.get_db()
    limit = min(max(request.args.get("limit", 50, type=int), 1), MAX_PAGE)
    offset = max(request.args.get("offset", 0, type=int), 0)
    status = request.args.get("status") or None

    def body() -> str:
        rows = db.list_jobs(connection, limit, offset, status)
        return current_app.json.dumps(dict(
            jobs=[job_dict(row) for row in rows], total=db.count_jobs(connection, status),
            limit=limit, offset=offset, counts=db.queue_counts(connection))) + "\n"

    key = ("api", db.jobs_version(connection), request.script_root, limit, offset, status)
    return Response(list_cache().get(key, body), mimetype="application/json")


@bp.post("/jobs")
def create_jobs():
    """Queue video URLs, or (`playlist_url`) the videos of a playlist or channel as a group."""
    data = _body()
    urls = data.get("urls") or ([data["url"]] if data.get("url") else [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise UserError("'urls' must be a list of strings.")
    connection = db.get_db()
    resolution, speaker_options = data.get("resolution") or _settings().default_resolution, jobs.parse_speakers(data)
    if "playlist_url" in data:
        if urls:
            raise UserError("Send either 'urls' or 'playlist_url', not both.")
        if not isinstance(data["playlist_url"], str):
            raise UserError("'playlist_url' must be a string.")
        queued = jobs.submit_playlist(connection, _worker(), _settings(), data["playlist_url"], resolution,
                                      speaker_options, g.user.id)
        return jsonify({**_group(connection, queued.group_id), "message": queued.message}), 201
    job_ids = jobs.submit(connection, _worker(), _settings(), "\n".join(urls), resolution, speaker_options, g.user.id)
    return jsonify(jobs=[job_dict(db.get_job(connection, i)) for i in job_ids]), 201


@bp.post("/uploads")
def upload():
    """Queue an uploaded video or audio file: multipart/form-data, the file in `file` (see
    views/uploading.py for the CSRF rule); the job, 201."""
    job_id = uploading.queue_upload()
    return jsonify(job_dict(db.get_job(db.get_db(), job_id))), 201


@bp.get("/jobs/<int:job_id>")
def get_job(job_id: int):
    return jsonify(job_dict(jobs.require_job(db.get_db(), job_id)))


@bp.delete("/jobs/<int:job_id>")
def delete_job(job_id: int):
    jobs.check_may_change(db.get_db(), g.user, [job_id], "delete")
    jobs.delete(db.get_db(), _worker(), [job_id])
    return "", 204


@bp.post("/jobs/<int:job_id>/retry")
def retry_job(job_id: int):
    connection = db.get_db()
    jobs.check_may_change(connection, g.user, [job_id], "retry")
    jobs.retry(connection, _worker(), job_id)
    return jsonify(job_dict(db.get_job(connection, job_id)))


@bp.post("/jobs/<int:job_id>/cancel")
def cancel_job(job_id: int):
    connection = db.get_db()
    jobs.check_may_change(connection, g.user, [job_id], "cancel")
    jobs.cancel(connection, _worker(), job_id)
    return jsonify(job_dict(db.get_job(connection, job_id))), 202


@bp.get("/jobs/<int:job_id>/segments")
def segments(job_id: int):
    connection = db.get_db()
    jobs.require_job(connection, job_id)
    names = db.speaker_names(connection, job_id)
    turns = [turn_dict(t, names) for t in db.turns_for(connection, job_id)]
    return jsonify(segments=[segment_dict(s, names) for s in db.segments_for(connection, job_id)],
                   turns=turns, overlaps=overlaps_of(turns))


@bp.get("/jobs/<int:job_id>/speakers")
def list_speakers(job_id: int):
    connection = db.get_db()
    jobs.require_job(connection, job_id)
    suggested = speakers.suggestions(connection, job_id)
    return jsonify(speakers=[speaker_dict(row, suggested.get(row["label"])) for row in db.speakers_for(connection, job_id)])


@bp.put("/jobs/<int:job_id>/speakers/<label>")
def name_speaker(job_id: int, label: str):
    connection = db.get_db()
    jobs.check_may_change(connection, g.user, [job_id], "name speakers in")
    speakers.name_speaker(connection, job_id, label, _body().get("name"))
    return jsonify(speaker_dict(db.get_speaker(connection, job_id, label), None))


@bp.post("/jobs/<int:job_id>/speakers/<label>/suggestion")
def answer_suggestion(job_id: int, label: str):
    connection = db.get_db()
    jobs.check_may_change(connection, g.user, [job_id], "name speakers in")
    accept = _body().get("accept")
    if not isinstance(accept, bool):
        raise UserError('Send {"accept": true} or {"accept": false}.')
    speakers.answer_suggestion(connection, job_id, label, accept)
    return jsonify(speaker_dict(db.get_speaker(connection, job_id, label), None))


@bp.get("/people")
def list_people():
    return jsonify(people=[person_dict(p) for p in db.list_people(db.get_db())])


@bp.patch("/people/<int:person_id>")
def rename_person(person_id: int):
    require_admin()
    connection = db.get_db()
    speakers.rename_person(connection, person_id, _body().get("name"))
    return jsonify(person_dict(next(p for p in db.list_people(connection) if p["id"] == person_id)))


@bp.post("/people/<int:person_id>/merge")
def merge_person(person_id: int):
    require_admin()
    connection = db.get_db()
    into = _body().get("into")
    if not isinstance(into, int):
        raise UserError('Send {"into": <person id>}.')
    speakers.merge_people(connection, person_id, into)
    return jsonify(person_dict(next(p for p in db.list_people(connection) if p["id"] == into)))


@bp.get("/jobs/<int:job_id>/candidates")
def candidates(job_id: int):
    connection = db.get_db()
    jobs.require_job(connection, job_id)
    return jsonify(candidates=[candidate_dict(c) for c in db.candidates_for(connection, job_id)])


@bp.get("/jobs/<int:job_id>/clips")
def list_clips(job_id: int):
    connection = db.get_db()
    jobs.require_job(connection, job_id)
    return jsonify(clips=[clip_dict(c) for c in db.clips_for(connection, job_id)])


@bp.post("/jobs/<int:job_id>/clips")
def create_clip(job_id: int):
    connection = db.get_db()
    clip_id = jobs.request_clip(connection, _worker(), _settings(), job_id, _body())
    return jsonify(clip_dict(db.get_clip(connection, clip_id))), 202


def _group(connection, group_id: int) -> dict:
    """{"group": the group with its counts, "jobs": its jobs in playlist order}."""
    group = jobs.require_group(connection, group_id)
    return {"group": group_dict(group, db.group_counts(connection, [group_id])[group_id]),
            "jobs": [job_dict(job) for job in db.group_jobs(connection, group_id)]}


@bp.get("/groups/<int:group_id>")
def get_group(group_id: int):
    return jsonify(_group(db.get_db(), group_id))


@bp.delete("/groups/<int:group_id>")
def delete_group(group_id: int):
    jobs.check_may_change_group(db.get_db(), g.user, group_id, "delete")
    jobs.delete_group(db.get_db(), _worker(), group_id)
    return "", 204


@bp.post("/groups/<int:group_id>/cancel")
def cancel_group(group_id: int):
    connection = db.get_db()
    jobs.check_may_change_group(connection, g.user, group_id, "cancel")
    jobs.cancel_group(connection, _worker(), group_id)
    return jsonify(_group(connection, group_id)), 202


@bp.get("/clips/<int:clip_id>")
def get_clip(clip_id: int):
    clip = db.get_clip(db.get_db(), clip_id)
    if clip is None:
        abort(404)
    return jsonify(clip_dict(clip))


@bp.get("/clips")
def list_all_clips():
    connection = db.get_db()
    filters = clips.parse_filters(connection, request.args)
    limit = min(max(request.args.get("limit", 50, type=int), 1), MAX_PAGE)
    offset = max(request.args.get("offset", 0, type=int), 0)
    rows = db.list_clips(connection, **asdict(filters), limit=limit, offset=offset)
    return jsonify(clips=[library_clip_dict(row) for row in rows], total=db.count_clips(connection, **asdict(filters)),
                   limit=limit, offset=offset)


@bp.post("/clips/zip")
def zip_clips():
    return zip_of_clips(clips.open_for_zip(db.get_db(), _settings(), _body().get("ids", [])))


@bp.get("/search")
def search_segments():
    connection = db.get_db()
    text, speaker, job_id = search.request_filters(connection, request.args)
    limit = min(max(request.args.get("limit", 20, type=int), 1), search.MAX_LIMIT)
    offset = min(max(request.args.get("offset", 0, type=int), 0), db.SEARCH_WINDOW)
    return jsonify(results_dict(search.search(connection, text, speaker, job_id, limit, offset)))


def _setting_text(name: str, value) -> str | None:
    """A JSON value as the environment would spell it; null puts the setting back to its default."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise UserError(f"{name} must be a string, a number, true/false or null.")


@bp.get("/settings")
def list_settings():
    require_admin()
    entries = settings_store.entries(current_app.config["SETTINGS"], db.get_db())
    return jsonify(settings=[entry.public() for entry in entries])


@bp.patch("/settings")
def change_settings():
    """Change settings, all or none: {"DIARIZATION_BACKEND": "embedded", "CLIP_MAX_SECONDS": 45}."""
    require_admin()
    changes = {name: _setting_text(name, value) for name, value in _body().items()}
    try:
        changed = settings_store.save(current_app.config["SETTINGS"], db.get_db(), changes, g.user.name)
    except SettingsInvalid as error:
        return jsonify(error=str(error), errors=error.errors), 400
    entries = settings_store.entries(current_app.config["SETTINGS"], db.get_db())
    return jsonify(changed=changed, settings=[entry.public() for entry in entries])
