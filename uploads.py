"""Receiving an uploaded file: streamed to disk in the staging folder beside the job folders, never
held whole in memory, and deleted unless it is moved into a job's folder.

The upload form is parsed here, not by Flask: the app's 1 MB request limit stays for every other
route, this one has MAX_UPLOAD_MB, and the file part goes straight to a file in the staging folder
(the same disk as the job folders, so moving it into one is a rename).
"""
from __future__ import annotations

import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from werkzeug.datastructures import MultiDict
from werkzeug.formparser import FormDataParser

from jobs import UserError

STAGING = ".uploads"  # in DOWNLOAD_DIR; job folders are numbers, so it is never one of them
FORM_BYTES = 64 * 1024  # the form's other fields and the multipart framing
# What the form parser may hold in memory at once: its read buffer (64 kB reads) and the text fields,
# as Flask's default MAX_FORM_MEMORY_SIZE; the file part itself goes to disk as it arrives.
FORM_MEMORY_BYTES = 500_000
MAX_PARTS = 16


@dataclass
class Upload:
    form: MultiDict
    path: Path | None  # the received file, in the staging folder; None when none was chosen
    name: str  # the file's name as the person's browser gave it, made safe to show and to store


def body_limit(settings) -> int:
    """The largest request body an upload may have (Waitress and the form parser refuse larger ones)."""
    return settings.max_upload_mb * 1024 * 1024 + FORM_BYTES


def staging_dir(settings) -> Path:
    return settings.download_dir / STAGING


def clear_staging(settings) -> None:
    """Remove what a killed app was receiving; only at start-up, when no upload can be under way."""
    shutil.rmtree(staging_dir(settings), ignore_errors=True)


def safe_name(name: str) -> str:
    """A file name from a browser, reduced to its last part without control characters or leading dots."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip().lstrip(".")
    return name[:120] or "upload"


@contextmanager
def receive(environ, settings) -> Iterator[Upload]:
    """The posted form, its file (field `file`) received into the staging folder.

    Raises werkzeug's RequestEntityTooLarge over body_limit, ValueError for a body that is not a form,
    UserError for a second file. The file is deleted when the block ends, however it ends, unless it
    was moved away.
    """
    folder = staging_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    received: list[Path] = []

    def stream_factory(total_content_length, content_type, filename, content_length=None):
        if received:
            raise UserError("Upload one file at a time.")
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix="upload-", suffix=".part", delete=False)
        received.append(Path(handle.name))
        return handle

    files = MultiDict()
    try:
        parser = FormDataParser(stream_factory, max_form_memory_size=FORM_MEMORY_BYTES,
                                max_content_length=body_limit(settings), max_form_parts=MAX_PARTS, silent=False)
        _, form, files = parser.parse_from_environ(environ)
        file = files.get("file")
        for each in files.values():
            each.close()  # written in full: ffprobe reads it by name
        chosen = file is not None and file.filename
        yield Upload(form, received[0] if chosen else None, safe_name(file.filename) if chosen else "")
    finally:
        for each in files.values():
            each.close()
        for path in received:
            path.unlink(missing_ok=True)
