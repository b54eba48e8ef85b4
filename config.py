"""Settings, read once from the environment (and .env) with defaults, help and validation in one place.

Some of them may also be changed on the Settings page while the app runs (CHANGEABLE_AT_RUN_TIME):
settings_store keeps those in the database and lays them over these with `with_stored`, checked by
the same parsers and messages. A value set in the environment or .env always wins and is shown locked.
"""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from netguard import AddressPolicy
from pipeline.options import DIARIZATION_BACKENDS, RESOLUTIONS, AnalysisOptions

ROOT = Path(__file__).resolve().parent


class ConfigError(Exception):
    """A setting has a value the app cannot use; the message names it."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 1/0, true/false, yes/no")


_bool.choices = ("0", "1")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError("must be a positive whole number") from None
    if number <= 0:
        raise ValueError("must be a positive whole number")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("must be a positive number") from None
    if number != number or number == float("inf") or number <= 0:
        raise ValueError("must be a positive number")
    return number


def _choice(options):
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value
    parse.choices = tuple(options)  # the Settings page offers them in a list
    return parse


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _limit(value: str) -> int | None:
    """A whole-number limit; 0 or empty means no limit."""
    try:
        number = int(value) if value.strip() else 0
    except ValueError:
        raise ValueError("must be a whole number (0 or empty: no limit)") from None
    if number < 0:
        raise ValueError("must be a whole number (0 or empty: no limit)")
    return number or None


def _networks(value: str) -> tuple[str, ...]:
    """Comma- or space-separated networks in CIDR form (a single address is a /32 or /128)."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{item!r} is not an address or network like 192.168.1.0/24") from None
    return tuple(networks)


_HOST_NAME = re.compile(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]")


def _host_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in value.split(",") if name.strip())
    for name in names:
        if not _HOST_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a host name (give names like clipper.lan or [::1], no scheme or port)")
    return names


def _address(value: str) -> str:
    """An IP address, or empty."""
    if value.strip():
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"{value.strip()!r} is not an IP address (give one like 127.0.0.1)") from None
    return ""


# CTranslate2's compute types (faster-whisper passes the name through); 'default' picks per device.
COMPUTE_TYPES = ("default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                 "float16", "bfloat16", "float32")
AUTH_MODES = ("auto", "on", "off")

# (environment variable, default, parser, help) — the one list of what can be configured.
SETTINGS = [
    ("HOST", "127.0.0.1", str, "address to listen on"),
    ("PORT", "5001", _positive_int, "port to listen on"),
    ("ALLOWED_HOSTS", "", _host_names, "host names the app answers to, comma-separated, any port; empty: localhost, 127.0.0.1, [::1] and HOST"),
    ("WAITRESS_THREADS", "24", _positive_int, "server threads; each browser's live stream holds one (its tabs share it)"),
    ("FLASK_SECRET_KEY", "", str, "session signing key; generated once into instance/ when empty"),
    ("DATABASE_PATH", "instance/videos.db", str, "SQLite database file"),
    ("DOWNLOAD_DIR", "downloads", str, "where videos and analysis files go, one folder per job"),
    ("PROCESSED_CLIPS_DIR", "processed_clips", str, "where cut clips go, one folder per job"),
    ("MODELS_DIR", "instance/models", str, "where the bundled Whisper model is unpacked"),
    ("FASTER_WHISPER_MODEL", "base", _text, "Whisper size name (base is bundled) or a local model folder"),
    ("FASTER_WHISPER_COMPUTE_TYPE", "default", _choice(COMPUTE_TYPES), "int8 on CPU and float16 on CUDA when 'default'"),
    ("FASTER_WHISPER_DEVICE", "auto", _choice(("auto", "cpu", "cuda")), "device for Whisper"),
    ("HUGGING_FACE_TOKEN", "", str, "token for pyannote hub pipelines; empty keeps everything offline"),
    ("PYANNOTE_PIPELINE", "pyannote/speaker-diarization-community-1", _text, "pyannote hub id or local pipeline folder"),
    ("DIARIZATION_BACKEND", "auto", _choice(DIARIZATION_BACKENDS), "auto, embedded or pyannote"),
    ("FFMPEG_PATH", "", str, "ffmpeg binary or its folder; empty uses the one on PATH"),
    ("CLIP_MIN_SECONDS", "15", _positive_float, "shortest proposed clip"),
    ("CLIP_MAX_SECONDS", "60", _positive_float, "longest proposed clip, and longest custom clip is 10x this"),
    ("DEFAULT_RESOLUTION", "720p", _choice(RESOLUTIONS), "download resolution preselected in the form"),
    ("MAX_FILESIZE_MB", "4096", _limit, "refuse downloads larger than this, before and while downloading (0: no limit)"),
    ("MAX_DURATION_SECONDS", "14400", _limit, "refuse videos longer than this (0: no limit)"),
    ("MAX_PLAYLIST_VIDEOS", "50", _positive_int, "a playlist or channel queues at most this many of its videos, the first ones"),
    ("MAX_UPLOAD_MB", "4096", _positive_int, "largest video or audio file that can be uploaded, in MB"),
    ("ALLOW_PRIVATE_URLS", "0", _bool, "allow loopback, private, link-local and other non-public addresses (off by default)"),
    ("ALLOWED_NETWORKS", "", _networks, "addresses or networks (CIDR) to allow even when private addresses are refused, e.g. a NAS at 192.168.1.20"),
    ("EVENTS_KEEPALIVE_SECONDS", "15", _positive_float, "idle seconds before a live stream sends a keep-alive comment; keep it well under Waitress's 120 s channel_timeout"),
    ("AUTH", "auto", _choice(AUTH_MODES), "sign-in: auto (required unless HOST is a loopback address), on or off"),
    ("SESSION_LIFETIME_DAYS", "14", _positive_float, "days a sign-in lasts before the password is asked again"),
    ("TRUSTED_PROXY", "", _address, "address of a reverse proxy in front of the app whose X-Forwarded-For and X-Forwarded-Proto are believed (client address for sign-in throttling, https for the Secure cookie)"),
]

# Safe to change while the app runs: the Settings page offers these (each job and request reads them anew).
CHANGEABLE_AT_RUN_TIME = (
    "FASTER_WHISPER_MODEL", "FASTER_WHISPER_COMPUTE_TYPE", "FASTER_WHISPER_DEVICE", "DIARIZATION_BACKEND",
    "PYANNOTE_PIPELINE", "HUGGING_FACE_TOKEN", "CLIP_MIN_SECONDS", "CLIP_MAX_SECONDS", "DEFAULT_RESOLUTION",
    "MAX_FILESIZE_MB", "MAX_DURATION_SECONDS", "MAX_PLAYLIST_VIDEOS", "MAX_UPLOAD_MB", "ALLOW_PRIVATE_URLS",
    "ALLOWED_NETWORKS", "SESSION_LIFETIME_DAYS",
)
SECRET_SETTINGS = ("HUGGING_FACE_TOKEN",)  # write-only: never shown, sent or logged
BY_NAME = {name: (default, parse, help_text) for name, default, parse, help_text in SETTINGS}
LOCKING_SOURCES = ("environment", ".env", "app configuration")  # a value from these cannot change at run time


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    allowed_hosts: tuple[str, ...]
    waitress_threads: int
    flask_secret_key: str
    database_path: Path
    download_dir: Path
    processed_clips_dir: Path
    models_dir: Path
    faster_whisper_model: str
    faster_whisper_compute_type: str
    faster_whisper_device: str
    hugging_face_token: str
    pyannote_pipeline: str
    diarization_backend: str
    ffmpeg_path: str
    clip_min_seconds: float
    clip_max_seconds: float
    default_resolution: str
    max_filesize_mb: int | None
    max_duration_seconds: int | None
    max_playlist_videos: int
    max_upload_mb: int
    allow_private_urls: bool
    allowed_networks: tuple[str, ...]
    events_keepalive_seconds: float
    auth: str
    session_lifetime_days: float
    trusted_proxy: str
    # Where each value came from: "environment", ".env", "app configuration", "Settings page" or "default".
    sources: dict = field(compare=False, repr=False)

    @property
    def sign_in_required(self) -> bool:
        """AUTH=auto asks for sign-in as soon as the app listens beyond this machine."""
        return self.auth == "on" or (self.auth == "auto" and not is_loopback(self.host))

    def locked(self, name: str) -> bool:
        """Set outside the app (environment, .env, create_app): the Settings page cannot change it."""
        return self.sources.get(name) in LOCKING_SOURCES

    def analysis_options(self, **job_options) -> AnalysisOptions:
        """Options for one job: the settings plus what the person chose for it."""
        return AnalysisOptions(
            whisper_model=self.faster_whisper_model, compute_type=self.faster_whisper_compute_type,
            device=self.faster_whisper_device, diarization=self.diarization_backend,
            pyannote_pipeline=self.pyannote_pipeline, hf_token=self.hugging_face_token or None,
            clip_min_seconds=self.clip_min_seconds, clip_max_seconds=self.clip_max_seconds,
            max_filesize_mb=self.max_filesize_mb, max_duration_seconds=self.max_duration_seconds,
            ffmpeg_path=self.ffmpeg_path or None, models_dir=str(self.models_dir),
            allow_local_files=False, **job_options,
        )

    def address_policy(self) -> AddressPolicy:
        """Which addresses downloads may connect to."""
        return AddressPolicy(self.allow_private_urls, self.allowed_networks)


def _resolve(path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else ROOT / candidate


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may well be reachable from elsewhere


def parse_setting(name: str, raw) -> object:
    """One setting's value from its text, or ConfigError with the one-line message for a person."""
    _default, parse, help_text = BY_NAME[name]
    if not isinstance(raw, str):
        return raw
    try:
        return parse(raw)
    except ValueError as error:
        raise ConfigError(f"{name}={raw!r} is not valid: {error} ({help_text}).") from None


def _check_together(values: dict) -> None:
    """Rules that involve more than one setting."""
    if values["clip_min_seconds"] > values["clip_max_seconds"]:
        raise ConfigError("CLIP_MIN_SECONDS must not exceed CLIP_MAX_SECONDS.")


def load_settings(overrides: dict | None = None, environ=os.environ, env_file: dict | None = None) -> Settings:
    """Settings from overrides, then the environment, then `env_file` (the .env values), then defaults;
    ConfigError names a bad one."""
    overrides = {key.upper(): value for key, value in (overrides or {}).items()}
    env_file = env_file or {}
    values, sources = {}, {}
    for name, default, _parse, _help in SETTINGS:
        for source, layer in (("app configuration", overrides), ("environment", environ), (".env", env_file)):
            if name in layer and layer[name] is not None:
                raw, sources[name] = layer[name], source
                break
        else:
            raw, sources[name] = default, "default"
        values[name.lower()] = parse_setting(name, raw)
    for key in ("database_path", "download_dir", "processed_clips_dir", "models_dir"):
        values[key] = _resolve(str(values[key]))
    _check_together(values)
    if values["ffmpeg_path"] and not Path(values["ffmpeg_path"]).exists():
        raise ConfigError(f"FFMPEG_PATH={values['ffmpeg_path']!r} does not exist.")
    if not values["allowed_hosts"]:
        values["allowed_hosts"] = _default_hosts(values["host"])
    if not values["flask_secret_key"]:
        values["flask_secret_key"] = _stored_secret(values["database_path"].parent)
    values["sources"] = sources
    assert {f.name for f in fields(Settings)} == set(values)
    return Settings(**values)


def with_stored(settings: Settings, stored: dict[str, str]) -> Settings:
    """`settings` with the values saved on the Settings page, where nothing outside the app set them."""
    changes, sources = {}, dict(settings.sources)
    for name, raw in stored.items():
        if name in CHANGEABLE_AT_RUN_TIME and not settings.locked(name):
            changes[name.lower()] = parse_setting(name, raw)
            sources[name] = "Settings page"
    if not changes:
        return settings
    values = {f.name: getattr(settings, f.name) for f in fields(Settings)} | changes
    _check_together(values)
    return replace(settings, **changes, sources=sources)


def _default_hosts(host: str) -> tuple[str, ...]:
    """The loopback names and the listening address, as a browser puts them in its Host header."""
    names = ("localhost", "127.0.0.1", "[::1]", f"[{host}]" if ":" in host else host.lower())
    return tuple(dict.fromkeys(names))


def _stored_secret(instance_dir: Path) -> str:
    """A secret key generated on first run and kept, so sessions survive restarts."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
