"""Receiving an upload, for the page's form (POST /uploads) and the API (POST /api/uploads) alike:
the CSRF check, the file streamed to disk (uploads.receive), the job queued (jobs.submit_upload).

Both routes read their own body: the app-wide CSRF check would read the whole form with the app's
1 MB limit first, so they are exempt from it and check the token here instead.
"""
from __future__ import annotations

from flask import current_app, g, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

import auth
import db
import jobs
import settings_store
import uploads

CSRF_HEADER = "X-CSRFToken"


def _check_csrf(token: str | None) -> None:
    """The check CSRFProtect makes of every other form (and, like it, not when a test turns it off)."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(token)
        except ValidationError as error:
            raise CSRFError(error.args[0]) from None


def queue_upload() -> int:
    """Receive the posted form and queue its file (field `file`) as the user's job; its id.

    A request signed with an API token needs no CSRF token. Any other needs one, in the X-CSRFToken
    header (checked before the body is read) or in the form's csrf_token field (once it is read).
    Raises CSRFError, or UserError with a message for the person; nothing stays behind either way.
    """
    settings = settings_store.for_request()
    header = request.headers.get(CSRF_HEADER)
    needs_token = not auth.by_token()
    if needs_token and header:
        _check_csrf(header)
    with uploads.receive(request.environ, settings) as received:
        if needs_token and not header:
            _check_csrf(received.form.get("csrf_token"))
        return jobs.submit_upload(db.get_db(), current_app.extensions["worker"], settings, received,
                                  jobs.parse_speakers(received.form), g.user.id)
