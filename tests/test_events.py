"""The live stream resumes after the version a page was rendered at, so no saved change is missed."""
from __future__ import annotations

import json
import threading
import time

import db
from events import Broadcaster
from views import events as event_views
from tests.test_app_api import add_job, app, client, connect, make_app  # noqa: F401


def _text(chunk) -> str:
    return chunk.decode() if isinstance(chunk, bytes) else chunk


def read_events(response, count: int) -> list[tuple[str, str, dict]]:
    """The first `count` (id, event, data) messages of a streamed response."""
    events, buffer = [], ""
    for chunk in response.response:
        buffer += _text(chunk)
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
    assert broadcaster.wait(version + 5, timeout=0)[1] is None  # newer than any change
    assert broadcaster.wait(None, timeout=0)[1] is None  # a position from another run
    for job_id in (3, 4, 5):
        broadcaster.announce("job", job_id)
    assert broadcaster.wait(start, timeout=0)[1] is None  # fell out of the kept history


def test_stream_since_a_rendered_version_delivers_a_change_made_before_it_connected(app, client):
    job_id = add_job(app, status="Queued")
    rendered_at = client.get("/").get_data(as_text=True)
    since = rendered_at.split('data-events-since="')[1].split('"')[0]
    connection = connect(app)
    db.set_job_status(connection, job_id, "Error", step="failed", error="The video was not found (HTTP 404).")
    app.extensions["worker"].announce_job(connection, job_id)  # saved, announced, before the page listens
    connection.close()
    response = client.get(f"/events?since={since}", buffered=False)
    [(event_id, kind, data)] = read_events(response, 1)
    assert (kind, data["id"], data["status"]) == ("job", job_id, "Error")
    broadcaster = app.extensions["broadcaster"]
    # what the browser sends back as Last-Event-ID when it reconnects
    assert event_id == broadcaster.position(broadcaster.version_at(since) + 1)


def test_reconnect_with_last_event_id_skips_what_was_seen(app, client):
    ids = [add_job(app, url=f"http://example.com/{i}", status="Queued") for i in range(2)]
    worker, connection = app.extensions["worker"], connect(app)
    broadcaster = app.extensions["broadcaster"]
    start = broadcaster.version
    for job_id in ids:
        worker.announce_job(connection, job_id)
    connection.close()
    response = client.get(f"/events?since={broadcaster.position(start)}",
                          headers={"Last-Event-ID": broadcaster.position(start + 1)}, buffered=False)
    [(_, kind, data)] = read_events(response, 1)
    assert (kind, data["id"]) == ("job", ids[1])


def test_fresh_stream_starts_with_a_snapshot_and_stale_one_is_told_to_resync(app, client):
    job_id = add_job(app, status="Processing")
    [(_, kind, data)] = read_events(client.get("/events", buffered=False), 1)
    assert (kind, data["id"], data["status"]) == ("job", job_id, "Processing")
    position = app.extensions["broadcaster"].position(999999)
    [(_, kind, _)] = read_events(client.get(f"/events?since={position}", buffered=False), 1)
    assert kind == "resync"


def test_positions_name_the_run_of_the_app_they_come_from():
    first = Broadcaster()
    time.sleep(0.001)
    restarted = Broadcaster()
    assert restarted.boot > first.boot  # a later run has a larger boot: live-worker.js relies on it
    first.announce("job", 1)
    assert first.position() == f"{first.boot}-1" and first.version_at(first.position()) == 1
    assert restarted.version_at(first.position()) is None
    for garbage in ("1", "", f"{first.boot}-", f"{first.boot}-x", f"{first.boot}--1"):
        assert first.version_at(garbage) is None, garbage


def test_last_event_id_from_before_a_restart_is_told_to_resync(make_app):
    first = make_app()
    job_id = add_job(first, status="Queued")
    connection = connect(first)
    for _ in range(3):
        first.extensions["worker"].announce_job(connection, job_id)
    connection.close()
    since = first.extensions["broadcaster"].position(2)
    [(last_seen, _, _)] = read_events(first.test_client().get(f"/events?since={since}", buffered=False), 1)
    first.extensions["worker"].stop()

    restarted = make_app()  # the same database; its versions start again at 0 and pass the one seen
    connection = connect(restarted)
    for _ in range(5):
        restarted.extensions["worker"].announce_job(connection, job_id)
    connection.close()
    response = restarted.test_client().get("/events", headers={"Last-Event-ID": last_seen}, buffered=False)
    [(event_id, kind, _)] = read_events(response, 1)
    assert kind == "resync"
    assert event_id == restarted.extensions["broadcaster"].position(5)  # where the client resumes next


def test_stream_of_one_job_gets_keep_alives_while_other_jobs_change(make_app):
    """Keep-alives count from the last line this client got, not from the last change anywhere."""
    app = make_app(EVENTS_KEEPALIVE_SECONDS="0.3")
    watched = add_job(app, status="Queued")
    busy = add_job(app, url="http://example.com/busy", status="Processing")
    broadcaster = app.extensions["broadcaster"]
    busy_until = time.monotonic() + 3

    def progress():
        while time.monotonic() < busy_until:
            broadcaster.announce("job", busy)
            time.sleep(0.05)

    announcer = threading.Thread(target=progress)
    announcer.start()
    response = app.test_client().get(f"/events?job={watched}&since={broadcaster.position()}", buffered=False)
    try:
        started = time.monotonic()
        chunks = iter(response.response)
        while not _text(next(chunks)).startswith(": keep-alive"):
            pass
        arrived = time.monotonic()
    finally:
        response.close()
        announcer.join()
    assert arrived < busy_until, "no keep-alive while other jobs were changing"
    assert arrived - started < 1.5


def test_poll_sends_what_is_pending_and_ends(app, client, monkeypatch):
    """What a tab without SharedWorker uses: EventSource reconnects after `retry` with its Last-Event-ID."""
    monkeypatch.setattr(event_views, "STREAM_SECONDS", 3)  # so a stream that does not end fails quickly
    job_id = add_job(app, status="Queued")
    broadcaster = app.extensions["broadcaster"]
    since = broadcaster.position()
    connection = connect(app)
    app.extensions["worker"].announce_job(connection, job_id)
    connection.close()
    started = time.monotonic()
    body = client.get(f"/events?poll=1&since={since}").get_data(as_text=True)
    assert time.monotonic() - started < 1
    assert body.startswith("retry: 2000\n\n")
    assert f"id: {broadcaster.position()}\nevent: job\n" in body and f'"id": {job_id}' in body
    started = time.monotonic()
    assert client.get(f"/events?poll=1&since={broadcaster.position()}").get_data(as_text=True) == "retry: 2000\n\n"
    assert time.monotonic() - started < 1
