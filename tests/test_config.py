"""Settings: defaults, refusing wrong values by name, and the secret key kept in instance/."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

import config
from config import ConfigError, load_settings

REPO = config.ROOT


def settings_in(tmp_path, **env):
    """Settings from only `env` (not the real environment), with the instance folder in tmp_path."""
    environ = {"DATABASE_PATH": str(tmp_path / "instance" / "videos.db"), **env}
    return load_settings(environ=environ)


def test_defaults(tmp_path):
    settings = settings_in(tmp_path)
    assert (settings.host, settings.port, settings.waitress_threads) == ("127.0.0.1", 5001, 24)
    assert settings.allowed_hosts == ("localhost", "127.0.0.1", "[::1]")
    assert settings.download_dir == REPO / "downloads"
    assert settings.processed_clips_dir == REPO / "processed_clips"
    assert settings.models_dir == REPO / "instance" / "models"
    assert settings.database_path == tmp_path / "instance" / "videos.db"
    assert (settings.clip_min_seconds, settings.clip_max_seconds) == (15.0, 60.0)
    assert settings.diarization_backend == "auto"
    assert settings.default_resolution == "720p"
    assert settings.faster_whisper_model == "base"
    # Downloads are limited by default (4 GB, 4 h); 0 or empty lifts a limit.
    assert (settings.max_filesize_mb, settings.max_duration_seconds) == (4096, 14400)
    assert settings.allow_private_urls is False and settings.allowed_networks == ()
    assert settings.events_keepalive_seconds == 15.0
    assert settings.hugging_face_token == "" and settings.ffmpeg_path == ""


def test_environment_and_overrides(tmp_path):
    settings = settings_in(tmp_path, PORT="8080", ALLOW_PRIVATE_URLS="yes", MAX_FILESIZE_MB="200",
                           DOWNLOAD_DIR=str(tmp_path / "dl"), DIARIZATION_BACKEND="embedded")
    assert settings.port == 8080 and settings.allow_private_urls is True and settings.max_filesize_mb == 200
    assert settings.download_dir == tmp_path / "dl" and settings.diarization_backend == "embedded"
    # Overrides (create_app's config) win over the environment; relative paths are under the repo.
    overridden = load_settings({"port": "9090", "DOWNLOAD_DIR": "somewhere"},
                               environ={"PORT": "8080", "DATABASE_PATH": str(tmp_path / "i" / "v.db")})
    assert overridden.port == 9090 and overridden.download_dir == REPO / "somewhere"


def test_allowed_hosts_default_to_loopback_and_the_listening_address(tmp_path):
    assert settings_in(tmp_path, HOST="192.168.1.20").allowed_hosts == ("localhost", "127.0.0.1", "[::1]", "192.168.1.20")
    assert settings_in(tmp_path, HOST="::1").allowed_hosts == ("localhost", "127.0.0.1", "[::1]")
    assert settings_in(tmp_path, HOST="fd00::5").allowed_hosts[-1] == "[fd00::5]"  # as a Host header writes it
    listed = settings_in(tmp_path, HOST="0.0.0.0", ALLOWED_HOSTS=" Clipper.lan,[::1], ,10.0.0.2 ")
    assert listed.allowed_hosts == ("clipper.lan", "[::1]", "10.0.0.2")  # as given: no names added


def test_limits_can_be_lifted_and_networks_allowed(tmp_path):
    settings = settings_in(tmp_path, MAX_FILESIZE_MB="0", MAX_DURATION_SECONDS="",
                           ALLOWED_NETWORKS="192.168.1.20, 10.0.0.0/8")
    assert settings.max_filesize_mb is None and settings.max_duration_seconds is None
    assert settings.allowed_networks == ("192.168.1.20/32", "10.0.0.0/8")
    policy = settings.address_policy()
    assert not policy.refuses("192.168.1.20") and not policy.refuses("10.9.8.7")
    assert policy.refuses("192.168.1.21") and policy.refuses("127.0.0.1") and policy.refuses("100.64.0.1")
    assert not policy.refuses("93.184.216.34")


@pytest.mark.parametrize("env, name", [
    ({"PORT": "abc"}, "PORT"),
    ({"PORT": "-5"}, "PORT"),
    ({"WAITRESS_THREADS": "0"}, "WAITRESS_THREADS"),
    ({"DIARIZATION_BACKEND": "x"}, "DIARIZATION_BACKEND"),
    ({"DEFAULT_RESOLUTION": "4k"}, "DEFAULT_RESOLUTION"),
    ({"ALLOW_PRIVATE_URLS": "maybe"}, "ALLOW_PRIVATE_URLS"),
    ({"CLIP_MAX_SECONDS": "lots"}, "CLIP_MAX_SECONDS"),
    ({"CLIP_MIN_SECONDS": "nan"}, "CLIP_MIN_SECONDS"),
    ({"CLIP_MIN_SECONDS": "90", "CLIP_MAX_SECONDS": "60"}, "CLIP_MIN_SECONDS"),
    ({"MAX_DURATION_SECONDS": "1.5"}, "MAX_DURATION_SECONDS"),
    ({"MAX_FILESIZE_MB": "-1"}, "MAX_FILESIZE_MB"),
    ({"ALLOWED_NETWORKS": "192.168.1.0/24, my-nas"}, "ALLOWED_NETWORKS"),
    ({"EVENTS_KEEPALIVE_SECONDS": "0"}, "EVENTS_KEEPALIVE_SECONDS"),
    ({"ALLOWED_HOSTS": "http://clipper.lan"}, "ALLOWED_HOSTS"),
    ({"ALLOWED_HOSTS": "clipper.lan:5001"}, "ALLOWED_HOSTS"),
    ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
    ({"FFMPEG_PATH": "/no/such/ffmpeg"}, "FFMPEG_PATH"),
    ({"FASTER_WHISPER_COMPUTE_TYPE": "int3"}, "FASTER_WHISPER_COMPUTE_TYPE"),
    ({"FASTER_WHISPER_MODEL": ""}, "FASTER_WHISPER_MODEL"),
    ({"AUTH": "maybe"}, "AUTH"),
    ({"SESSION_LIFETIME_DAYS": "0"}, "SESSION_LIFETIME_DAYS"),
    ({"TRUSTED_PROXY": "proxy.lan"}, "TRUSTED_PROXY"),
])
def test_wrong_value_names_the_variable(tmp_path, env, name):
    with pytest.raises(ConfigError) as caught:
        settings_in(tmp_path, **env)
    message = str(caught.value)
    assert name in message
    assert "\n" not in message


def test_app_refuses_to_start_with_one_clear_line(tmp_path):
    env = {**os.environ, "PORT": "abc", "DATABASE_PATH": str(tmp_path / "instance" / "videos.db"),
           "DOWNLOAD_DIR": str(tmp_path / "downloads"), "PROCESSED_CLIPS_DIR": str(tmp_path / "clips")}
    done = subprocess.run([sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "PORT" in lines[0] and "abc" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert "Serving on" not in done.stdout


def test_secret_key_generated_once_and_kept(tmp_path):
    first = settings_in(tmp_path)
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.flask_secret_key) >= 32
    assert key_file.read_text().strip() == first.flask_secret_key
    assert settings_in(tmp_path).flask_secret_key == first.flask_secret_key  # kept across restarts
    other = tmp_path / "other"
    assert settings_in(other).flask_secret_key != first.flask_secret_key  # each install its own


def test_explicit_secret_key_writes_nothing(tmp_path):
    settings = settings_in(tmp_path, FLASK_SECRET_KEY="from-the-environment")
    assert settings.flask_secret_key == "from-the-environment"
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_analysis_options_follow_settings(tmp_path):
    settings = settings_in(tmp_path, CLIP_MIN_SECONDS="5", CLIP_MAX_SECONDS="20", MAX_DURATION_SECONDS="600")
    options = settings.analysis_options(resolution="360p", num_speakers=2)
    assert (options.clip_min_seconds, options.clip_max_seconds) == (5.0, 20.0)
    assert options.max_duration_seconds == 600 and options.resolution == "360p" and options.num_speakers == 2
    assert options.allow_local_files is False  # a web request never reads the server's own files


def test_every_setting_is_documented():
    readme, example = (REPO / "README.md").read_text(), (REPO / ".env.example").read_text()
    for name, _default, _parse, _help in config.SETTINGS:
        assert f"`{name}`" in readme, name
        assert f"# {name}=" in example, name
    for name in config.CHANGEABLE_AT_RUN_TIME:  # marked as changeable on the Settings page
        assert f"[Settings page]\n# {name}=" in example, name


def test_where_each_value_comes_from(tmp_path):
    settings = load_settings({"PORT": "9000"}, environ={"DATABASE_PATH": str(tmp_path / "v.db"), "HOST": "::1"},
                             env_file={"HOST": "0.0.0.0", "AUTH": "on"})
    assert settings.sources["PORT"] == "app configuration" and settings.sources["HOST"] == "environment"
    assert settings.sources["AUTH"] == ".env" and settings.sources["CLIP_MIN_SECONDS"] == "default"
    assert settings.host == "::1" and settings.auth == "on" and settings.sign_in_required
    assert settings.locked("HOST") and not settings.locked("CLIP_MIN_SECONDS")


def test_stored_values_lie_over_defaults_but_never_over_the_environment(tmp_path):
    settings = settings_in(tmp_path, DIARIZATION_BACKEND="pyannote")
    changed = config.with_stored(settings, {"DIARIZATION_BACKEND": "embedded", "CLIP_MAX_SECONDS": "30",
                                            "PORT": "80"})  # not changeable at run time: ignored
    assert changed.diarization_backend == "pyannote" and changed.sources["DIARIZATION_BACKEND"] == "environment"
    assert changed.clip_max_seconds == 30.0 and changed.sources["CLIP_MAX_SECONDS"] == "Settings page"
    assert changed.port == 5001 and settings.clip_max_seconds == 60.0  # the original is untouched
    assert config.with_stored(settings, {}) is settings
    with pytest.raises(ConfigError, match="CLIP_MIN_SECONDS must not exceed CLIP_MAX_SECONDS."):
        config.with_stored(settings, {"CLIP_MAX_SECONDS": "10"})
    with pytest.raises(ConfigError, match="CLIP_MAX_SECONDS='x' is not valid"):
        config.with_stored(settings, {"CLIP_MAX_SECONDS": "x"})
