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
from werkzeug.exceptions import RequestEntityTooLarge
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

    Raises UserError over body_limit (413), for a body that is not a form or for a second file. The
    file is deleted when the block ends, however it ends, unless it was moved away.
    """
    if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise UserError("Send the upload as multipart/form-data, with the file in the field 'file'.", 415)
    folder = staging_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    received = []  # the staging files' handles (one, or the form is refused)

    def stream_factory(total_content_length, content_type, filename, content_length=None):
        if received:
            raise UserError("Upload one file at a time.")
        received.append(tempfile.NamedTemporaryFile(dir=folder, prefix="upload-", suffix=".part", delete=False))
        return received[-1]

    try:
        parser = FormDataParser(stream_factory, max_form_memory_size=FORM_MEMORY_BYTES,
                                max_content_length=body_limit(settings), max_form_parts=MAX_PARTS, silent=False)
        try:
            _, form, files = parser.parse_from_environ(environ)
        except RequestEntityTooLarge:
            raise UserError(f"The file is larger than the upload limit of {settings.max_upload_mb} MB "
                            "(MAX_UPLOAD_MB).", 413) from None
        except ValueError as error:
            raise UserError(f"The upload could not be read ({error}); send it as a form with the file in 'file'.") from None
        file = files.get("file")
        for handle in received:
            handle.close()  # written in full: ffprobe reads it by name
        chosen = file is not None and file.filename
        yield Upload(form, Path(received[0].name) if chosen else None, safe_name(file.filename) if chosen else "")
    finally:
        for handle in received:
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
