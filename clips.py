"""The clips of every video: the filters their list takes, and several clips as one zip that is
sent while it is written (never held whole in memory or on disk). Shared by the clips page and the API."""
from __future__ import annotations

import io
import os
import re
import time
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from werkzeug.security import safe_join

import db
import jobs
from jobs import UserError
from worker import clips_dir

STATUSES = ("Creating", "Created", "Failed")
MAX_ZIP_CLIPS = 100
CHUNK = 1 << 16


@dataclass
class ClipFilters:
    """What a list of clips is narrowed to; None leaves a filter out."""
    job_id: int | None = None
    status: str | None = None
    captions: bool | None = None
    vertical: bool | None = None


def parse_filters(connection, values) -> ClipFilters:
    """The filters a request asks for (job, status, captions, vertical), each checked."""
    status = values.get("status") or None
    if status is not None and status not in STATUSES:
        raise UserError(f"Status must be one of {', '.join(STATUSES)}.")
    return ClipFilters(jobs.job_filter(connection, values.get("job")), status,
                       _yes_no(values.get("captions"), "captions"), _yes_no(values.get("vertical"), "vertical"))


def _yes_no(value, name: str) -> bool | None:
    text = str(value or "").strip().lower()
    if text in ("", "any"):
        return None
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise UserError(f"The {name} filter takes yes or no.")


def archive_name(title: str | None, clip_id: int) -> str:
    """`<video title>-clip-<id>.mp4`, keeping only letters, digits, '.', '_' and '-' of the title."""
    stem = re.sub(r"[^\w.-]+", "-", title or "")[:80].strip(".-_") or "video"
    return f"{stem}-clip-{clip_id}.mp4"


def open_for_zip(connection, settings, clip_ids: list) -> list[tuple[str, BinaryIO]]:
    """Each clip's archive name and open file, in the order asked. Opening them all now means a clip
    deleted while the zip is being sent still arrives whole; any clip that cannot be sent is an error
    before anything is sent. The caller closes the files (close_all)."""
    if not isinstance(clip_ids, list) or not all(map(_is_id, clip_ids)):
        raise UserError("Clip ids must be a list of whole numbers.")
    ids = list(dict.fromkeys(int(i) for i in clip_ids))
    if not ids:
        raise UserError("Select at least one clip to download.")
    if len(ids) > MAX_ZIP_CLIPS:
        raise UserError(f"At most {MAX_ZIP_CLIPS} clips in one zip.")
    rows = {row["id"]: row for row in db.clips_with_titles(connection, ids)}
    for clip_id in ids:
        if clip_id not in rows:
            raise UserError(f"There is no clip {clip_id}.", 404)
        if rows[clip_id]["status"] != "Created":
            raise UserError(f"Clip {clip_id} is {rows[clip_id]['status']}; only created clips can be downloaded.", 409)
    files: list[tuple[str, BinaryIO]] = []
    for clip_id in ids:
        row = rows[clip_id]
        path = safe_join(str(clips_dir(settings, row["job_id"])), row["filename"])
        try:
            files.append((archive_name(row["job_title"], clip_id), open(path or "", "rb")))
        except OSError:
            close_all(files)
            raise UserError(f"The file of clip {clip_id} is missing; cut the clip again.", 404) from None
    return files


def _is_id(value) -> bool:
    """A whole number as JSON gives it, or as a form or query string does."""
    if isinstance(value, str):
        return value.isdecimal()
    return isinstance(value, int) and not isinstance(value, bool)


def close_all(files: list[tuple[str, BinaryIO]]) -> None:
    for _, file in files:
        file.close()


class _Pipe(io.RawIOBase):
    """Where zipfile writes: it keeps what was written until taken. Not seekable, so zipfile writes
    each member's sizes after its data (a data descriptor) instead of going back for them."""

    def __init__(self):
        self._pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pieces.append(bytes(data))
        return len(data)

    def taken(self) -> Iterator[bytes]:
        if self._pieces:
            yield b"".join(self._pieces)
            self._pieces.clear()


def zip_stream(files: list[tuple[str, BinaryIO]]) -> Iterator[bytes]:
    """A zip of the files, a piece at a time; stored, not deflated: an MP4 is compressed already."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as archive:
        for name, source in files:
            stat = os.fstat(source.fileno())
            member = zipfile.ZipInfo(name, time.localtime(stat.st_mtime)[:6])
            member.file_size = stat.st_size  # lets zipfile choose ZIP64 for a member over 2 GB
            with archive.open(member, "w") as writer:
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
                    yield from pipe.taken()
    yield from pipe.taken()
