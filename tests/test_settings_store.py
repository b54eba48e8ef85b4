"""Settings changed while the app runs: the page and the API check them with config's own table and
messages, store them all or nothing, lock what the environment sets, never show the token, log who
changed what, and hand them to the next job."""
from __future__ import annotations

import html
import re

import pytest

import db
import settings_store
from config import CHANGEABLE_AT_RUN_TIME, ConfigError, load_settings
from tests.test_app_api import connect, make_app  # noqa: F401

TOKEN = "hf_TopSecretValue123"

# Wrong values for every setting the page offers; each gets the message a wrong environment variable gets.
INVALID = [
    ("FASTER_WHISPER_MODEL", "   "),
    ("FASTER_WHISPER_COMPUTE_TYPE", "int3"),
    ("FASTER_WHISPER_DEVICE", "gpu"),
    ("DIARIZATION_BACKEND", "magic"),
    ("PYANNOTE_PIPELINE", ""),
    ("CLIP_MIN_SECONDS", "soon"),
    ("CLIP_MIN_SECONDS", "-5"),
    ("CLIP_MIN_SECONDS", "nan"),
    ("CLIP_MAX_SECONDS", "0"),
    ("CLIP_MAX_SECONDS", "inf"),
    ("DEFAULT_RESOLUTION", "4k"),
    ("MAX_FILESIZE_MB", "1.5"),
    ("MAX_FILESIZE_MB", "-1"),
    ("MAX_DURATION_SECONDS", "an hour"),
    ("MAX_PLAYLIST_VIDEOS", "0"),
    ("MAX_PLAYLIST_VIDEOS", "all"),
    ("MAX_UPLOAD_MB", "2.5"),
    ("MAX_UPLOAD_MB", "-1"),
    ("ALLOW_PRIVATE_URLS", "maybe"),
    ("ALLOWED_NETWORKS", "the office"),
    ("SESSION_LIFETIME_DAYS", "0"),
    ("SESSION_LIFETIME_DAYS", "forever"),
]


CHOSEN_FROM_A_LIST = ("FASTER_WHISPER_COMPUTE_TYPE", "FASTER_WHISPER_DEVICE", "DIARIZATION_BACKEND",
                      "DEFAULT_RESOLUTION", "ALLOW_PRIVATE_URLS")


def test_every_changeable_setting_has_invalid_values_here():
    assert {name for name, _ in INVALID} | {"HUGGING_FACE_TOKEN"} == set(CHANGEABLE_AT_RUN_TIME)


def environment_message(tmp_path, name: str, value: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"DATABASE_PATH": str(tmp_path / "env" / "v.db"), name: value})
    return str(caught.value)


def stored(app) -> dict:
    connection = connect(app)
    try:
        return db.stored_settings(connection)
    finally:
        connection.close()


def change_log(app) -> list[dict]:
    connection = connect(app)
    try:
        return [dict(row) for row in db.settings_changes(connection)]
    finally:
        connection.close()


def page_errors(response) -> list[str]:
    return [html.unescape(message) for message in re.findall(r'setting-error">([^<]*)<', response.get_data(as_text=True))]


@pytest.mark.parametrize("name, value", INVALID)
def test_invalid_values_get_the_settings_tables_message_and_change_nothing(make_app, tmp_path, name, value):
    app = make_app(ALLOW_PRIVATE_URLS=None)  # not set outside the app: changeable here
    client = app.test_client()
    message = environment_message(tmp_path, name, value)
    assert name in message and "\n" not in message
    # with a valid change beside it: nothing is saved at all
    valid = {"DIARIZATION_BACKEND": "embedded"} if name != "DIARIZATION_BACKEND" else {"DEFAULT_RESOLUTION": "360p"}
    response = client.post("/settings", data={name: value, **valid})
    assert response.status_code == 400
    assert page_errors(response) == [message]
    if name not in CHOSEN_FROM_A_LIST:
        assert f'value="{html.escape(value)}"' in response.get_data(as_text=True)  # what was typed stays
    response = client.patch("/api/settings", json={name: value, **valid})
    assert response.status_code == 400 and response.get_json()["errors"] == {name: message}
    assert stored(app) == {} and change_log(app) == []
    assert settings_store.current(app.config["SETTINGS"]) == app.config["SETTINGS"]


def test_clip_bounds_are_checked_together(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    response = client.post("/settings", data={"CLIP_MIN_SECONDS": "90"})
    assert response.status_code == 400
    assert page_errors(response) == ["CLIP_MIN_SECONDS must not exceed CLIP_MAX_SECONDS."]
    assert environment_message(tmp_path, "CLIP_MIN_SECONDS", "90") == page_errors(response)[0]
    assert client.patch("/api/settings", json={"CLIP_MAX_SECONDS": 5}).status_code == 400
    assert stored(app) == {}
    assert client.patch("/api/settings", json={"CLIP_MIN_SECONDS": 90, "CLIP_MAX_SECONDS": 120}).status_code == 200
    assert stored(app) == {"CLIP_MIN_SECONDS": "90", "CLIP_MAX_SECONDS": "120"}


def test_settings_that_need_a_restart_are_refused(make_app):
    app = make_app()
    response = app.test_client().patch("/api/settings", json={"DATABASE_PATH": "/tmp/x.db", "PORT": 80})
    assert response.status_code == 400
    assert response.get_json()["errors"]["PORT"] == "PORT cannot be changed while the app runs; set it in the environment or .env."
    assert stored(app) == {}


def test_a_saved_change_is_used_from_the_next_job_without_a_restart(make_app):
    app = make_app()
    base = app.config["SETTINGS"]
    client = app.test_client()
    response = client.post("/settings", data={"FASTER_WHISPER_MODEL": "small", "FASTER_WHISPER_COMPUTE_TYPE": "float32",
                                              "FASTER_WHISPER_DEVICE": "cpu", "DIARIZATION_BACKEND": "embedded",
                                              "PYANNOTE_PIPELINE": "/models/pyannote", "CLIP_MIN_SECONDS": "5",
                                              "CLIP_MAX_SECONDS": "20", "DEFAULT_RESOLUTION": "480p",
                                              "MAX_FILESIZE_MB": "300", "MAX_DURATION_SECONDS": "600",
                                              "MAX_PLAYLIST_VIDEOS": "10", "MAX_UPLOAD_MB": "500",
                                              "ALLOW_PRIVATE_URLS": "0", "ALLOWED_NETWORKS": "192.168.1.20, 10.0.0.0/8",
                                              "SESSION_LIFETIME_DAYS": "2",
                                              "HUGGING_FACE_TOKEN": TOKEN})
    assert response.status_code == 302
    follow = client.get("/settings").get_data(as_text=True)
    assert "The next job uses the new values; no restart needed." in follow
    # Only what changed is saved (ALLOW_PRIVATE_URLS is 1 in the fixture's app configuration: locked).
    assert set(stored(app)) == set(CHANGEABLE_AT_RUN_TIME) - {"ALLOW_PRIVATE_URLS"}
    # What the worker calls for each job (worker._analyze): the stored values, over the start-up ones.
    options = settings_store.current(base).analysis_options(resolution="720p")
    assert (options.whisper_model, options.compute_type, options.device) == ("small", "float32", "cpu")
    assert (options.diarization, options.pyannote_pipeline, options.hf_token) == ("embedded", "/models/pyannote", TOKEN)
    assert (options.clip_min_seconds, options.clip_max_seconds) == (5.0, 20.0)
    assert (options.max_filesize_mb, options.max_duration_seconds) == (300, 600)
    assert settings_store.current(base).address_policy().allowed_networks == ("192.168.1.20/32", "10.0.0.0/8")
    assert base.faster_whisper_model == "base"  # the start-up settings themselves are untouched
    # and the request side: the form preselects the new resolution and states the new limits
    home = client.get("/").get_data(as_text=True)
    assert '<option value="480p" selected>' in home
    assert "at most its first 10." in home and "Up to 500 MB." in home


def test_a_restart_keeps_the_stored_values(make_app):
    first = make_app()
    first.test_client().patch("/api/settings", json={"DIARIZATION_BACKEND": "embedded"})
    again = make_app()  # the same database
    assert settings_store.current(again.config["SETTINGS"]).diarization_backend == "embedded"


def test_values_from_the_environment_are_locked_and_say_where_they_come_from(make_app, monkeypatch):
    monkeypatch.setenv("DIARIZATION_BACKEND", "pyannote")
    app = make_app(CLIP_MAX_SECONDS="30")  # create_app's configuration counts as set outside the app too
    client = app.test_client()
    page = client.get("/settings").get_data(as_text=True)
    for name, source in (("DIARIZATION_BACKEND", "environment"), ("CLIP_MAX_SECONDS", "app configuration")):
        block = page[page.index(f'data-setting="{name}"'):]
        block = block[:block.index("list-group-item", 20)]
        assert "locked" in block and f"set in the {source}" in block and "disabled" in block
    response = client.patch("/api/settings", json={"DIARIZATION_BACKEND": "embedded"})
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"DIARIZATION_BACKEND": "DIARIZATION_BACKEND is set in the environment; change it there."}
    entries = {entry["name"]: entry for entry in client.get("/api/settings").get_json()["settings"]}
    assert entries["DIARIZATION_BACKEND"] == {**entries["DIARIZATION_BACKEND"], "value": "pyannote",
                                              "source": "environment", "locked": True}
    assert entries["CLIP_MIN_SECONDS"]["locked"] is False and entries["CLIP_MIN_SECONDS"]["source"] == "default"
    # A value stored earlier does not win over the environment either.
    connection = connect(app)
    db.save_settings(connection, {"DIARIZATION_BACKEND": "embedded"}, "someone", {"DIARIZATION_BACKEND": ("a", "b")})
    connection.close()
    assert settings_store.current(app.config["SETTINGS"]).diarization_backend == "pyannote"


def test_env_file_values_are_locked_as_set_in_env(tmp_path):
    settings = load_settings(environ={"DATABASE_PATH": str(tmp_path / "v.db"), "CLIP_MIN_SECONDS": "10"},
                             env_file={"CLIP_MIN_SECONDS": "12", "DIARIZATION_BACKEND": "embedded"})
    assert settings.clip_min_seconds == 10 and settings.sources["CLIP_MIN_SECONDS"] == "environment"
    assert settings.diarization_backend == "embedded" and settings.sources["DIARIZATION_BACKEND"] == ".env"
    assert settings.locked("DIARIZATION_BACKEND") and not settings.locked("DEFAULT_RESOLUTION")


def test_the_token_is_write_only(make_app):
    app = make_app()
    client = app.test_client()
    assert client.post("/settings", data={"HUGGING_FACE_TOKEN": TOKEN}).status_code == 302
    page = client.get("/settings").get_data(as_text=True)
    assert TOKEN not in page and "set (hidden)" in page
    field = re.search(r'<input[^>]*name="HUGGING_FACE_TOKEN"[^>]*>', page).group(0)
    assert 'type="password"' in field and 'value=""' in field
    api = client.get("/api/settings").get_data(as_text=True)
    assert TOKEN not in api
    token_entry = next(e for e in client.get("/api/settings").get_json()["settings"] if e["name"] == "HUGGING_FACE_TOKEN")
    assert token_entry["value"] is None and token_entry["is_set"] is True
    # Saving the page again with the field left empty keeps it; "remove it" clears it.
    assert client.post("/settings", data={"HUGGING_FACE_TOKEN": "", "DEFAULT_RESOLUTION": "360p"}).status_code == 302
    assert stored(app)["HUGGING_FACE_TOKEN"] == TOKEN
    response = client.patch("/api/settings", json={"HUGGING_FACE_TOKEN": TOKEN + "x"})
    assert TOKEN not in response.get_data(as_text=True)
    # an invalid save beside it does not echo the token back into the page
    response = client.post("/settings", data={"HUGGING_FACE_TOKEN": "hf_another", "CLIP_MIN_SECONDS": "x"})
    assert response.status_code == 400 and "hf_another" not in response.get_data(as_text=True)
    assert client.post("/settings", data={"clear_HUGGING_FACE_TOKEN": "1"}).status_code == 302
    assert "HUGGING_FACE_TOKEN" not in stored(app)
    assert settings_store.current(app.config["SETTINGS"]).hugging_face_token == ""
    # the change log never holds its value
    log = [change for change in change_log(app) if change["name"] == "HUGGING_FACE_TOKEN"]
    assert [(c["old_value"], c["new_value"]) for c in log[::-1]] == [("(empty)", "(hidden)"), ("(hidden)", "(hidden)"),
                                                                    ("(hidden)", "(empty)")]


def test_the_change_log_says_who_changed_what_and_when(make_app):
    import accounts
    app = make_app(AUTH="on")
    connection = connect(app)
    accounts.create_user(connection, "alice", "alice-password", "admin")
    connection.close()
    client = app.test_client()
    client.post("/login", data={"name": "alice", "password": "alice-password"})
    client.post("/settings", data={"DIARIZATION_BACKEND": "embedded", "CLIP_MAX_SECONDS": "45"})
    client.post("/settings/reset", data={"name": "CLIP_MAX_SECONDS"})
    log = change_log(app)
    assert [(c["changed_by"], c["name"], c["old_value"], c["new_value"]) for c in log[::-1]] == [
        ("alice", "DIARIZATION_BACKEND", "auto", "embedded"), ("alice", "CLIP_MAX_SECONDS", "60", "45"),
        ("alice", "CLIP_MAX_SECONDS", "45", "60")]
    assert all(c["changed_at"] > 0 for c in log)
    page = client.get("/settings").get_data(as_text=True)
    assert 'id="changes"' in page and page.count("<td class=\"text-break\">alice</td>") == 3
    assert "changed by alice" in page  # beside DIARIZATION_BACKEND, which still holds a stored value
    assert stored(app) == {"DIARIZATION_BACKEND": "embedded"}


def test_nothing_changed_logs_nothing(make_app):
    app = make_app()
    response = app.test_client().post("/settings", data={"DIARIZATION_BACKEND": "auto", "CLIP_MIN_SECONDS": "15.0"},
                                      follow_redirects=True)
    assert "Nothing changed." in response.get_data(as_text=True)
    assert change_log(app) == [] and stored(app) == {}


def test_a_stored_value_that_became_invalid_stops_start_up_with_its_name(make_app):
    app = make_app()
    connection = connect(app)
    connection.execute("INSERT INTO settings (name, value, changed_at, changed_by) VALUES ('CLIP_MAX_SECONDS', 'x', 0, 'a')")
    connection.close()
    with pytest.raises(ConfigError, match="CLIP_MAX_SECONDS='x' is not valid"):
        make_app()


def test_the_page_says_when_changes_apply(make_app):
    page = make_app().test_client().get("/settings").get_data(as_text=True)
    assert "Changes apply from the <strong>next job</strong>, without a restart" in page
    for name in CHANGEABLE_AT_RUN_TIME:
        assert f'data-setting="{name}"' in page
    assert 'data-setting="PORT"' not in page and 'data-setting="DATABASE_PATH"' not in page

