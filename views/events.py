"""Server-Sent Events: each saved change of a job or clip, pushed to open pages."""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, request, stream_with_context

import db
from views.serialize import clip_dict, job_dict

bp = Blueprint("events", __name__)
STREAM_SECONDS = 300  # then the browser reconnects by itself; bounds how long a thread is held


def _event(kind: str, data: dict, version: int) -> str:
    """One SSE message; its id lets the browser resume after exactly this change when it reconnects."""
    return f"id: {version}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


@bp.get("/events")
def stream():
    """Live job/clip updates; `?job=ID` narrows to one job.

    `?since=N` (the version a page was rendered at) or the browser's Last-Event-ID resumes after
    that change, so nothing saved between rendering and connecting is missed. Without either the
    stream starts with a snapshot of the jobs, so a fresh client sees the truth.
    """
    app = current_app._get_current_object()
    settings, broadcaster, worker = app.config["SETTINGS"], app.extensions["broadcaster"], app.extensions["worker"]
    only_job = request.args.get("job", type=int)
    since = request.headers.get("Last-Event-ID", type=int)
    if since is None:
        since = request.args.get("since", type=int)

    def job_event(connection, job_id, version, snapshot=None):
        job = snapshot if snapshot is not None else db.get_job(connection, job_id)
        return _event("job", job_dict(job), version) if job else _event("deleted", {"id": job_id}, version)

    def generate():
        connection = db.connect(settings.database_path)
        try:
            yield "retry: 2000\n\n"
            version = since
            if version is None:
                version = broadcaster.version
                for job_id in [only_job] if only_job else db.unfinished_job_ids(connection):
                    yield job_event(connection, job_id, version)
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline and not worker.exit_event.is_set():
                version, changes = broadcaster.wait(version, settings.events_keepalive_seconds)
                if changes is None:
                    yield _event("resync", {}, version)
                    continue
                if not changes:
                    yield ": keep-alive\n\n"
                    continue
                for change, kind, item_id, snapshot in changes:  # in the order they were saved
                    if kind == "job" and (only_job is None or item_id == only_job):
                        yield job_event(connection, item_id, change, snapshot)
                    elif kind == "clip":
                        clip = db.get_clip(connection, item_id)
                        if clip and (only_job is None or clip["job_id"] == only_job):
                            yield _event("clip", clip_dict(clip), change)
        finally:
            connection.close()

    # stream_with_context keeps the request context, so url_for works while streaming.
    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
