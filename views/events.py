"""Server-Sent Events: each saved change of a job or clip, pushed to open pages."""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, request, stream_with_context

import db
from views.serialize import clip_dict, job_dict

bp = Blueprint("events", __name__)
STREAM_SECONDS = 300  # then the browser reconnects by itself; bounds how long a thread is held


def _event(kind: str, data: dict, position: str) -> str:
    """One SSE message; its id lets the browser resume after exactly this change when it reconnects."""
    return f"id: {position}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


@bp.get("/events")
def stream():
    """Live job/clip updates; `?job=ID` narrows to one job.

    `?since=POSITION` (where a page was rendered) or the browser's Last-Event-ID resumes after that
    change, so nothing saved between rendering and connecting is missed; a position from before a
    restart gets `resync`. Without either the stream starts with a snapshot of the jobs, so a fresh
    client sees the truth. `?poll=1` sends what is pending and ends: the browser's EventSource comes
    back after `retry` with its Last-Event-ID, so a page can follow along without holding a connection.
    """
    app = current_app._get_current_object()
    settings, broadcaster, worker = app.config["SETTINGS"], app.extensions["broadcaster"], app.extensions["worker"]
    only_job = request.args.get("job", type=int)
    since = request.headers.get("Last-Event-ID") or request.args.get("since")
    poll = request.args.get("poll") == "1"
    keepalive = settings.events_keepalive_seconds

    def job_event(connection, job_id, version, snapshot=None):
        job = snapshot if snapshot is not None else db.get_job(connection, job_id)
        position = broadcaster.position(version)
        return _event("job", job_dict(job), position) if job else _event("deleted", {"id": job_id}, position)

    def change_event(connection, version, kind, item_id, snapshot):
        """The message for one change, or None when this stream does not show it."""
        if kind == "job" and (only_job is None or item_id == only_job):
            return job_event(connection, item_id, version, snapshot)
        if kind == "clip":
            clip = db.get_clip(connection, item_id)
            if clip and (only_job is None or clip["job_id"] == only_job):
                return _event("clip", clip_dict(clip), broadcaster.position(version))
        return None

    def generate():
        connection = db.connect(settings.database_path)
        try:
            yield "retry: 2000\n\n"
            if since is None:
                version = broadcaster.version
                for job_id in [only_job] if only_job else db.unfinished_job_ids(connection):
                    yield job_event(connection, job_id, version)
            else:
                version = broadcaster.version_at(since)
            last_sent = time.monotonic()
            deadline = last_sent + STREAM_SECONDS
            while True:
                # Keep-alives count from the last line this client got: a stream narrowed to one job
                # stays quiet while other jobs change, and Waitress would close it as idle.
                timeout = 0 if poll else max(last_sent + keepalive - time.monotonic(), 0)
                version, changes = broadcaster.wait(version, timeout)
                if changes is None:
                    messages = [_event("resync", {}, broadcaster.position(version))]
                else:  # in the order they were saved
                    messages = [m for change in changes if (m := change_event(connection, *change))]
                if not messages and not poll and time.monotonic() - last_sent >= keepalive:
                    messages = [": keep-alive\n\n"]
                for message in messages:
                    yield message
                if messages:
                    last_sent = time.monotonic()
                if poll or time.monotonic() >= deadline or worker.exit_event.is_set():
                    return
        finally:
            connection.close()

    # stream_with_context keeps the request context, so url_for works while streaming.
    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
