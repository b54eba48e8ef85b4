"""Speaker names and voiceprints: naming, the name everywhere, suggestions by voice, the People page."""
from __future__ import annotations

import json

import numpy as np
import pytest

import db
import speakers
from pipeline.types import AnalysisResult
from tests.test_app_api import add_processed_job, app, client, connect, make_app  # noqa: F401
from tests.test_app_api import build_result


def unit(seed: int, base=None, spread: float = 0.0) -> list[float]:
    vector = np.random.default_rng(seed).standard_normal(192)
    if base is not None:
        vector = np.asarray(base) + spread * vector / np.linalg.norm(vector)
    return (vector / np.linalg.norm(vector)).tolist()


def processed(app, voiceprints: dict, title="Garden show") -> int:
    """A Processed job whose speakers SPEAKER_00/01 have the given voiceprints."""
    connection = connect(app)
    try:
        job_id = db.create_job(connection, f"http://example.com/{title}", "720p")
        folder = app.config["SETTINGS"].download_dir / str(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "video.mp4").write_bytes(b"x")
        result = build_result(str(folder / "video.mp4"), title=title)
        result.voiceprints, result.voiceprint_model = voiceprints, "campplus-cn-en-common"
        db.save_result(connection, job_id, result)
        (folder / "result.json").write_text(json.dumps({"schema_version": 2, **result.to_dict()}))
        return job_id
    finally:
        connection.close()


DIANE, OMAR = unit(1), unit(2)


def test_naming_a_speaker_shows_the_name_everywhere(app, client):
    job_id = processed(app, {"SPEAKER_00": DIANE, "SPEAKER_01": OMAR})
    token_page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'class="d-inline-block me-3 speaker-name"' in token_page
    response = client.put(f"/api/jobs/{job_id}/speakers/SPEAKER_00", json={"name": "  Diane   Duval "})
    assert response.status_code == 200 and response.get_json()["name"] == "Diane Duval"
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert html.count("Diane Duval") >= 4  # legend, segments, transcript, turns
    segments = client.get(f"/api/jobs/{job_id}/segments").get_json()
    assert segments["segments"][0]["speaker_name"] == "Diane Duval" and segments["segments"][1]["speaker_name"] is None
    assert "[Diane Duval] What is the best plant" in client.get(f"/jobs/{job_id}/transcript.srt").get_data(as_text=True)
    assert "<v Diane Duval>What is the best plant" in client.get(f"/jobs/{job_id}/transcript.vtt").get_data(as_text=True)
    assert " Diane_Duval " in client.get(f"/jobs/{job_id}/transcript.rttm").get_data(as_text=True)
    exported = json.loads(client.get(f"/jobs/{job_id}/transcript.json").data)
    assert {"id": "SPEAKER_00", "name": "Diane Duval"} in exported["speakers"]
    assert exported["segments"][0]["speaker_name"] == "Diane Duval"
    people = client.get("/api/people").get_json()["people"]
    assert [(p["name"], p["videos"]) for p in people] == [("Diane Duval", 1)]
    assert client.put(f"/api/jobs/{job_id}/speakers/SPEAKER_00", json={"name": ""}).get_json()["name"] is None
    assert client.get("/api/people").get_json()["people"] == []  # nobody is that voice any more


def test_a_named_voice_is_suggested_in_another_video_and_accepted(app, client):
    first = processed(app, {"SPEAKER_00": DIANE, "SPEAKER_01": OMAR}, "first")
    client.put(f"/api/jobs/{first}/speakers/SPEAKER_01", json={"name": "Omar"})
    second = processed(app, {"SPEAKER_00": unit(3), "SPEAKER_01": unit(4, OMAR, 0.5)}, "second")
    listed = {s["label"]: s for s in client.get(f"/api/jobs/{second}/speakers").get_json()["speakers"]}
    assert listed["SPEAKER_00"]["suggestion"] is None
    suggestion = listed["SPEAKER_01"]["suggestion"]
    assert suggestion["name"] == "Omar" and speakers.SUGGEST_SIMILARITY <= suggestion["similarity"] < 1.0
    html = client.get(f"/jobs/{second}").get_data(as_text=True)
    assert "SPEAKER_01 looks like <strong>Omar</strong>" in html
    accepted = client.post(f"/api/jobs/{second}/speakers/SPEAKER_01/suggestion", json={"accept": True}).get_json()
    assert accepted["name"] == "Omar"
    assert [(p["name"], p["videos"]) for p in client.get("/api/people").get_json()["people"]] == [("Omar", 2)]


def test_a_rejected_suggestion_is_not_made_again(app, client):
    first = processed(app, {"SPEAKER_00": DIANE, "SPEAKER_01": OMAR}, "first")
    client.put(f"/api/jobs/{first}/speakers/SPEAKER_00", json={"name": "Diane"})
    second = processed(app, {"SPEAKER_00": unit(5, DIANE, 0.4), "SPEAKER_01": unit(6)}, "second")
    assert client.post(f"/api/jobs/{second}/speakers/SPEAKER_00/suggestion", json={"accept": False}).status_code == 200
    listed = {s["label"]: s for s in client.get(f"/api/jobs/{second}/speakers").get_json()["speakers"]}
    assert listed["SPEAKER_00"]["suggestion"] is None and listed["SPEAKER_00"]["name"] is None
    again = client.post(f"/api/jobs/{second}/speakers/SPEAKER_00/suggestion", json={"accept": True})
    assert again.status_code == 409 and "no name suggested" in again.get_json()["error"]


def test_people_page_renames_and_merges(app, client):
    first = processed(app, {"SPEAKER_00": DIANE, "SPEAKER_01": OMAR}, "first")
    second = processed(app, {"SPEAKER_00": unit(7), "SPEAKER_01": unit(8)}, "second")
    client.put(f"/api/jobs/{first}/speakers/SPEAKER_00", json={"name": "Diane"})
    client.put(f"/api/jobs/{second}/speakers/SPEAKER_00", json={"name": "D. Duval"})
    people = {p["name"]: p["id"] for p in client.get("/api/people").get_json()["people"]}
    html = client.get("/people/").get_data(as_text=True)
    assert "Diane" in html and "D. Duval" in html and "into Diane" in html
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(f"/people/{people['D. Duval']}/merge", data={"into": people["Diane"], "csrf_token": token})
    assert [(p["name"], p["videos"]) for p in client.get("/api/people").get_json()["people"]] == [("Diane", 2)]
    client.post(f"/people/{people['Diane']}/rename", data={"name": "Diane Duval", "csrf_token": token})
    assert "Diane Duval" in client.get(f"/jobs/{second}").get_data(as_text=True)


@pytest.mark.parametrize("call, body, status, words", [
    ("PUT /api/jobs/{job}/speakers/SPEAKER_09", {"name": "X"}, 404, "no speaker SPEAKER_09"),
    ("PUT /api/jobs/{job}/speakers/SPEAKER_00", {"name": "x" * 81}, 400, "at most 80"),
    ("PUT /api/jobs/999/speakers/SPEAKER_00", {"name": "X"}, 404, "no job 999"),
    ("POST /api/jobs/{job}/speakers/SPEAKER_00/suggestion", {"accept": "yes"}, 400, '{"accept": true}'),
    ("POST /api/jobs/{job}/speakers/SPEAKER_00/suggestion", {"accept": True}, 409, "no name suggested"),
    ("PATCH /api/people/999", {"name": "X"}, 404, "no person 999"),
    ("POST /api/people/999/merge", {"into": 1}, 404, "no person 999"),
])
def test_bad_speaker_requests_are_refused_clearly(app, client, call, body, status, words):
    job_id = processed(app, {"SPEAKER_00": DIANE, "SPEAKER_01": OMAR})
    method, path = call.split(" ")
    response = client.open(path.format(job=job_id), method=method, json=body)
    assert response.status_code == status and words in response.get_json()["error"], response.get_json()
    assert client.get("/api/people").get_json()["people"] == []


def test_a_rename_onto_an_existing_name_asks_for_a_merge(app, client):
    first = processed(app, {"SPEAKER_00": DIANE, "SPEAKER_01": OMAR})
    client.put(f"/api/jobs/{first}/speakers/SPEAKER_00", json={"name": "Diane"})
    client.put(f"/api/jobs/{first}/speakers/SPEAKER_01", json={"name": "Omar"})
    people = {p["name"]: p["id"] for p in client.get("/api/people").get_json()["people"]}
    response = client.patch(f"/api/people/{people['Omar']}", json={"name": "diane"})
    assert response.status_code == 409 and "merge" in response.get_json()["error"]


def test_the_migration_gives_existing_jobs_their_speakers(tmp_path):
    connection = db.connect(tmp_path / "old.db")
    connection.executescript(f"BEGIN; {db.MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    # the columns of the first migration: today's create_job writes columns added since
    job_id = connection.execute("INSERT INTO jobs (url, status, resolution, created_at, updated_at)"
                                " VALUES ('http://example.com/v', 'Processed', '720p', 1, 1)").lastrowid
    connection.executemany("INSERT INTO speaker_turns (job_id, start, end, speaker) VALUES (?, ?, ?, ?)",
                           [(job_id, 0, 2, "SPEAKER_00"), (job_id, 2, 5, "SPEAKER_01"), (job_id, 5, 6, "SPEAKER_00")])
    db.migrate(connection)
    rows = [(r["label"], r["seconds"], r["voiceprint"]) for r in db.speakers_for(connection, job_id)]
    assert rows == [("SPEAKER_00", 3.0, None), ("SPEAKER_01", 3.0, None)]
    connection.close()
