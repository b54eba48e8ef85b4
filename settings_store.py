"""Settings changed on the Settings page (or PATCH /api/settings): kept in SQLite and laid over the
environment's by config.with_stored, read anew for every job and request, so a change applies from
the next job without a restart. Values set in the environment or .env stay locked."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, has_app_context

import config
import db
from config import CHANGEABLE_AT_RUN_TIME, SECRET_SETTINGS, ConfigError, Settings


class SettingsInvalid(Exception):
    """Some of the asked-for changes are not valid; `errors` maps each setting to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def current(settings: Settings, connection=None) -> Settings:
    """The settings in force now: `settings` (read at start) with the stored changes over them."""
    if connection is not None:
        return config.with_stored(settings, db.stored_settings(connection))
    connection = db.connect(settings.database_path)
    try:
        return config.with_stored(settings, db.stored_settings(connection))
    finally:
        connection.close()


def on_change(app, callback) -> None:
    """Have `callback(settings)` called with the settings in force after each saved change: for what
    is set once outside the app and must follow (the server's request body limit)."""
    app.extensions.setdefault("settings_listeners", []).append(callback)


def for_request() -> Settings:
    """This request's settings, read once per request."""
    if "settings" not in g:
        g.settings = current(current_app.config["SETTINGS"], db.get_db())
    return g.settings


def as_text(value) -> str:
    """A value as the environment would spell it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ", ".join(value)
    return str(value)


def _logged(name: str, text: str) -> str:
    """What the change log keeps of a value: a secret's never."""
    if name in SECRET_SETTINGS:
        return "(hidden)" if text else "(empty)"
    return text


@dataclass
class Entry:
    """One setting as the Settings page and the API show it."""
    name: str
    help: str
    default: str
    value: str  # empty for a secret: its value never leaves the server
    is_set: bool  # for a secret: whether it has a value
    secret: bool
    source: str
    locked: bool
    choices: tuple[str, ...] | None
    changed_at: float | None
    changed_by: str | None

    def public(self) -> dict:
        data = {"name": self.name, "value": None if self.secret else self.value, "default": self.default,
                "source": self.source, "locked": self.locked, "help": self.help,
                "changed_at": self.changed_at, "changed_by": self.changed_by}
        if self.secret:
            data["is_set"] = self.is_set
        if self.choices:
            data["choices"] = list(self.choices)
        return data


def entries(base: Settings, connection) -> list[Entry]:
    """Every setting the page offers, with its value now and where that comes from."""
    settings = current(base, connection)
    stored = db.stored_setting_rows(connection)
    result = []
    for name in CHANGEABLE_AT_RUN_TIME:
        default, parse, help_text = config.BY_NAME[name]
        text = as_text(getattr(settings, name.lower()))
        row = stored.get(name) if settings.sources.get(name) == "Settings page" else None
        result.append(Entry(
            name=name, help=help_text, default=default, value="" if name in SECRET_SETTINGS else text,
            is_set=bool(text), secret=name in SECRET_SETTINGS, source=settings.sources[name],
            locked=settings.locked(name), choices=getattr(parse, "choices", None),
            changed_at=row["changed_at"] if row else None, changed_by=row["changed_by"] if row else None))
    return result


def save(base: Settings, connection, changes: dict[str, str | None], changed_by: str) -> list[str]:
    """Check and store changes (None: back to the default); all or nothing. The names that changed.

    Each value is checked by config's own parser, so the messages are the ones a wrong environment
    variable gets; then all of them together (the shortest clip may not be longer than the longest).
    """
    before = current(base, connection)
    stored = db.stored_settings(connection)
    errors: dict[str, str] = {}
    wanted: dict[str, str | None] = {}
    for name, raw in changes.items():
        if name not in CHANGEABLE_AT_RUN_TIME:
            errors[name] = f"{name} cannot be changed while the app runs; set it in the environment or .env."
        elif before.locked(name):
            errors[name] = f"{name} is set in the {before.sources[name]}; change it there."
        elif raw is None:
            if name in stored:
                wanted[name] = None
        else:
            try:
                value = config.parse_setting(name, raw)
            except ConfigError as error:
                errors[name] = str(error)
                continue
            if as_text(value) != as_text(getattr(before, name.lower())):
                wanted[name] = raw.strip()
    if not errors:
        try:
            after = config.with_stored(base, {name: value for name, value in {**stored, **wanted}.items()
                                              if value is not None})
        except ConfigError as error:  # a rule about several settings: its message names them
            errors = {name: str(error) for name in wanted if name in str(error)} or {next(iter(wanted)): str(error)}
    if errors:
        raise SettingsInvalid(errors)
    if wanted:
        logged = {name: (_logged(name, as_text(getattr(before, name.lower()))),
                         _logged(name, as_text(getattr(after, name.lower())))) for name in wanted}
        db.save_settings(connection, wanted, changed_by, logged)
        # Outside an app (a shell, a test of the worker) there is no server to tell.
        for callback in current_app.extensions.get("settings_listeners", ()) if has_app_context() else ():
            callback(after)
    return list(wanted)
