"""The live stream resumes after the version a page was rendered at, so no saved change is missed."""
from __future__ import annotations

import json

import db
from events import Broadcaster
from tests.test_app_api import add_job, app, client, connect, make_app  # noqa: F401


def read_events(response, count: int) -> list[tuple[str, str, dict]]:
    """The first `count` (id, event, data) messages of a streamed response."""
    events, buffer = [], ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            message, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in message.splitlines() if ": " in line and not line.startswith(":"))
            if "event" in fields:
                events.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
                if len(events) == count:
                    response.close()
                    return events
    return events


def test_broadcaster_replays_changes_after_a_version_and_asks_stale_clients_to_resync():
    broadcaster = Broadcaster(history=3)
    start = broadcaster.version
    for job_id in (1, 2):
        broadcaster.announce("job", job_id, {"id": job_id})
    version, changes = broadcaster.wait(start, timeout=0)
    assert version == start + 2 and [(kind, item) for _, kind, item, _ in changes] == [("job", 1), ("job", 2)]
    assert broadcaster.wait(version + 5, timeout=0)[1] is None  # a version from before a restart
    for job_id in (3, 4, 5):
        broadcaster.announce("job", job_id)
    assert broadcaster.wait(start, timeout=0)[1] is None  # fell out of the kept history


def test_stream_since_a_rendered_version_delivers_a_change_made_before_it_connected(app, client):
    job_id = add_job(app, status="Queued")
    rendered_at = client.get("/").get_data(as_text=True)
    since = int(rendered_at.split('data-events-since="')[1].split('"')[0])
    connection = connect(app)
    db.set_job_status(connection, job_id, "Error", step="failed", error="The video was not found (HTTP 404).")
    app.extensions["worker"].announce_job(connection, job_id)  # saved, announced, before the page listens
    connection.close()
    response = client.get(f"/events?since={since}", buffered=False)
    [(event_id, kind, data)] = read_events(response, 1)
    assert (kind, data["id"], data["status"]) == ("job", job_id, "Error")
    assert int(event_id) == since + 1  # what the browser sends back as Last-Event-ID when it reconnects


def test_reconnect_with_last_event_id_skips_what_was_seen(app, client):
    ids = [add_job(app, url=f"http://example.com/{i}", status="Queued") for i in range(2)]
    worker, connection = app.extensions["worker"], connect(app)
    start = app.extensions["broadcaster"].version
    for job_id in ids:
        worker.announce_job(connection, job_id)
    connection.close()
    response = client.get(f"/events?since={start}", headers={"Last-Event-ID": str(start + 1)}, buffered=False)
    [(_, kind, data)] = read_events(response, 1)
    assert (kind, data["id"]) == ("job", ids[1])


def test_fresh_stream_starts_with_a_snapshot_and_stale_one_is_told_to_resync(app, client):
    job_id = add_job(app, status="Processing")
    [(_, kind, data)] = read_events(client.get("/events", buffered=False), 1)
    assert (kind, data["id"], data["status"]) == ("job", job_id, "Processing")
    [(_, kind, _)] = read_events(client.get("/events?since=999999", buffered=False), 1)
    assert kind == "resync"
