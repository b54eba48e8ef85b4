"""What a person can do to jobs and clips; shared by the pages and the JSON API."""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import db
import netguard
from pipeline import media
from pipeline.errors import MediaError, PipelineError
from pipeline.options import RESOLUTIONS
from worker import uploaded_file

MAX_URLS_PER_SUBMIT = 50


class UserError(Exception):
    """Bad input from the person; the message is shown to them as is."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class SpeakerOptions:
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


def _speaker_number(value, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a whole number.") from None
    if not 1 <= number <= 20:
        raise UserError(f"{name} must be between 1 and 20.")
    return number


def parse_speakers(values: dict) -> SpeakerOptions:
    speakers = SpeakerOptions(*(_speaker_number(values.get(key), label) for key, label in (
        ("num_speakers", "Number of speakers"), ("min_speakers", "Minimum speakers"), ("max_speakers", "Maximum speakers"))))
    if speakers.min_speakers and speakers.max_speakers and speakers.min_speakers > speakers.max_speakers:
        raise UserError("Minimum speakers must not be more than maximum speakers.")
    return speakers


def check_url(url: str, allow_private: bool, allowed_networks: tuple[str, ...] = ()) -> str:
    """The URL if it may be downloaded; a UserError saying why not otherwise.

    This is the early answer for the person; the analysis process checks every address again when
    it connects (netguard), since redirects and DNS answers can change after this.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise UserError(f"'{url[:100]}' is not a web address: only http:// and https:// URLs are accepted.")
    host = parsed.hostname or ""
    if not host or (" " in url) or ("." not in host and host != "localhost" and ":" not in host):
        raise UserError(f"'{url[:100]}' is not a valid URL.")
    if allow_private:
        return url
    try:
        addresses = netguard.resolve(host)
    except (OSError, UnicodeError):
        raise UserError(f"'{url[:100]}' cannot be fetched: the host '{host[:100]}' was not found "
                        "(its DNS lookup failed). Check the address.") from None
    policy = netguard.AddressPolicy(allow_private, allowed_networks)
    if any(policy.refuses(address) for address in addresses):
        raise UserError(f"'{url[:100]}' points to a private or local address, which is not allowed "
                        "(set ALLOW_PRIVATE_URLS=1 to allow it).")
    return url


def submit(connection, worker, settings, urls_text: str, resolution: str, speakers: SpeakerOptions,
           user_id: int | None = None) -> list[int]:
    """Queue every URL (one per line) as `user_id`'s; all are checked before any is queued."""
    urls = list(dict.fromkeys(line.strip() for line in (urls_text or "").splitlines() if line.strip()))
    if not urls:
        raise UserError("Paste at least one video URL.")
    if len(urls) > MAX_URLS_PER_SUBMIT:
        raise UserError(f"At most {MAX_URLS_PER_SUBMIT} URLs at a time.")
    _check_resolution(resolution)
    for url in urls:
        check_url(url, settings.allow_private_urls, settings.allowed_networks)
        _refuse_queued(connection, url)
    with db.transaction(connection):
        job_ids = _create_jobs(connection, [(url, None) for url in urls], resolution, speakers, user_id=user_id)
    _queue(connection, worker, job_ids)
    return job_ids


def submit_upload(connection, worker, settings, upload, speakers: SpeakerOptions, user_id: int | None = None) -> int:
    """Queue an uploaded file (uploads.Upload) as `user_id`'s: ffprobe must find whole media with audio in it (its
    content decides, not its name); it is then moved into the new job's folder, where the download
    stage takes it from."""
    if upload.path is None:
        raise UserError("Choose a video or audio file to upload.")
    try:
        info = media.verify_upload(upload.path, settings.ffmpeg_path or None)
    except MediaError as error:
        raise UserError(f"'{upload.name}' cannot be analysed: {error}") from None
    name = Path(upload.name).stem + media.UPLOAD_FORMATS[info.format_name.split(",")[0]]
    # The file is moved in before the row is committed: a failed move leaves neither row nor folder.
    with db.transaction(connection):
        job_id = db.create_job(connection, name, "best", speakers.num_speakers, speakers.min_speakers,
                               speakers.max_speakers, title=Path(name).stem, uploaded=True, user_id=user_id)
        stored = uploaded_file(settings, job_id, name)
        try:
            stored.parent.mkdir(parents=True, exist_ok=True)
            os.replace(upload.path, stored)
        except OSError as error:
            shutil.rmtree(stored.parent, ignore_errors=True)
            with contextlib.suppress(OSError):
                stored.parent.parent.rmdir()  # the job's folder, made just now
            raise UserError(f"'{upload.name}' could not be stored: {error.strerror or error}.", 507) from None
    _queue(connection, worker, [job_id])
    return job_id


@dataclass
class QueuedPlaylist:
    group_id: int
    job_ids: list[int]
    message: str  # what was queued, for the person; says so when the playlist had more videos than the cap
    more: bool  # it had: only its first videos were queued


def submit_playlist(connection, worker, settings, url: str, resolution: str,
                    speakers: SpeakerOptions, user_id: int | None = None) -> QueuedPlaylist:
    """Queue the videos of a playlist or channel as one group, as `user_id`'s. It is listed in the listing process
    (behind the address guard), and every video's address is checked like a typed one before any is queued."""
    url = (url or "").strip()
    if not url:
        raise UserError("Paste the address of a playlist or channel.")
    _check_resolution(resolution)
    check_url(url, settings.allow_private_urls, settings.allowed_networks)
    try:
        playlist = worker.list_playlist(url, settings.max_playlist_videos)
    except PipelineError as error:
        raise UserError(str(error)) from None
    for number, entry in enumerate(playlist.entries, start=1):
        try:
            check_url(entry.url, settings.allow_private_urls, settings.allowed_networks)
            _refuse_queued(connection, entry.url)
        except UserError as error:
            raise UserError(f"Video {number} of the playlist: {error}", error.status) from None
    queued = len(playlist.entries)
    with db.transaction(connection):
        group_id = db.create_group(connection, playlist.url, playlist.title, queued, playlist.video_count,
                                   playlist.more, user_id)
        job_ids = _create_jobs(connection, [(entry.url, entry.title) for entry in playlist.entries],
                               resolution, speakers, group_id, user_id)
    _queue(connection, worker, job_ids)
    message = f"Queued {queued} video{'s' if queued != 1 else ''} of the playlist '{playlist.title[:100]}'."
    note = limit_note(queued, playlist.video_count, playlist.more)
    return QueuedPlaylist(group_id, job_ids, f"{message} {note}" if note else message, playlist.more)


def limit_note(queued: int, video_count: int | None, more: bool) -> str | None:
    """Says that only a playlist's first videos were queued (MAX_PLAYLIST_VIDEOS); None when all were."""
    if not more:
        return None
    if video_count:
        return (f"Only the first {queued} of its {video_count} videos were queued: "
                "MAX_PLAYLIST_VIDEOS is the most one playlist adds.")
    return f"Only its first {queued} videos were queued (it has more): MAX_PLAYLIST_VIDEOS is the most one playlist adds."


def _check_resolution(resolution: str) -> None:
    if resolution not in RESOLUTIONS:
        raise UserError(f"Resolution must be one of {', '.join(RESOLUTIONS)}.")


def _refuse_queued(connection, url: str) -> None:
    existing = db.unfinished_job_for_url(connection, url)
    if existing:
        raise UserError(f"'{url[:100]}' is already in the queue (job {existing['id']}, {existing['status']}).", 409)


def _create_jobs(connection, videos: list[tuple[str, str | None]], resolution: str, speakers: SpeakerOptions,
                 group_id: int | None = None, user_id: int | None = None) -> list[int]:
    """A Pending job per (url, title), submitted by `user_id`; the caller holds the transaction."""
    return [db.create_job(connection, url, resolution, speakers.num_speakers, speakers.min_speakers,
                          speakers.max_speakers, title=title, group_id=group_id, user_id=user_id)
            for url, title in videos]


def _queue(connection, worker, job_ids: list[int]) -> None:
    for job_id in job_ids:
        db.set_job_status(connection, job_id, "Queued", step="queued")
        worker.announce_job(connection, job_id)  # before the worker can move it on
        worker.enqueue(job_id)


def require_job(connection, job_id: int):
    job = db.get_job(connection, job_id)
    if job is None:
        raise UserError(f"There is no job {job_id}.", 404)
    return job


def job_filter(connection, value) -> int | None:
    """The job a search or a list is narrowed to (`job=` in a request): None, or a job that exists."""
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdecimal():
        raise UserError(f"'{text[:20]}' is not a job id: the video filter takes a job's number.")
    require_job(connection, int(text))
    return int(text)


def may_change(user, job) -> bool:
    """Admins may cancel, retry and delete any job (or playlist's group); members only the ones they submitted."""
    return user.is_admin or (user.id is not None and job["user_id"] == user.id)


def check_may_change(connection, user, job_ids: list[int], action: str) -> None:
    for job_id in job_ids:
        job = require_job(connection, job_id)
        if not may_change(user, job):
            owner = f"{job['submitted_by']} submitted it" if job["submitted_by"] else "no current account submitted it"
            raise UserError(f"You may {action} only jobs you submitted: {owner} (job {job_id}).", 403)


def cancel(connection, worker, job_id: int) -> None:
    job = require_job(connection, job_id)
    if job["status"] not in db.UNFINISHED_STATUSES:
        raise UserError(f"Job {job_id} is {job['status']}; only queued or running jobs can be cancelled.", 409)
    _stop(connection, worker, job_id)


def _stop(connection, worker, job_id: int) -> None:
    """Cancel a waiting job here, atomically; a running one is the job thread's to stop (it is asked)."""
    if db.cancel_waiting_job(connection, job_id):
        worker.announce_job(connection, job_id)
    else:
        worker.cancel(job_id)


def retry(connection, worker, job_id: int) -> None:
    job = require_job(connection, job_id)
    if not db.requeue_job(connection, job_id):
        raise UserError(f"Job {job_id} is {job['status']}; only failed or cancelled jobs can be retried.", 409)
    worker.announce_job(connection, job_id)
    worker.enqueue(job_id)


def delete(connection, worker, job_ids: list[int]) -> int:
    """Have the jobs deleted with their rows and files (the job thread cancels a running one first)."""
    if not job_ids:
        raise UserError("Select at least one job to delete.")
    for job_id in job_ids:
        require_job(connection, job_id)
    if not worker.delete(connection, job_ids):
        what = f"Job {job_ids[0]}" if len(job_ids) == 1 else "Some of the jobs"
        raise UserError(f"{what} could not be stopped and deleted in time; try again.", 503)
    return len(job_ids)


def require_group(connection, group_id: int):
    group = db.get_group(connection, group_id)
    if group is None:
        raise UserError(f"There is no playlist group {group_id}.", 404)
    return group


def check_may_change_group(connection, user, group_id: int, action: str) -> None:
    group = require_group(connection, group_id)
    if not may_change(user, group):
        owner = f"{group['submitted_by']} submitted it" if group["submitted_by"] else "no current account submitted it"
        raise UserError(f"You may {action} only playlists you submitted: {owner} (playlist group {group_id}).", 403)


def cancel_group(connection, worker, group_id: int) -> int:
    """Cancel every queued or running job of a playlist's group; how many."""
    unfinished = [job for job in db.group_jobs(connection, require_group(connection, group_id)["id"])
                  if job["status"] in db.UNFINISHED_STATUSES]
    if not unfinished:
        raise UserError("Every video of this playlist has finished; there is nothing to cancel.", 409)
    # The running one last: stopped first, the job thread would start the next waiting one.
    for job in sorted(unfinished, key=lambda job: job["status"] in db.ACTIVE_STATUSES):
        _stop(connection, worker, job["id"])
    return len(unfinished)


def delete_group(connection, worker, group_id: int) -> int:
    """Delete a playlist's group: all its jobs with their files (the group goes with its last job)."""
    group_jobs = db.group_jobs(connection, require_group(connection, group_id)["id"])
    for job in group_jobs:
        db.cancel_waiting_job(connection, job["id"])  # so none of them starts while the others are deleted
    return delete(connection, worker, [job["id"] for job in group_jobs])


def _seconds(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number of seconds.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise UserError(f"{name} must be a number of seconds.")
    return number


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "on", "yes")


def request_clip(connection, worker, settings, job_id: int, values: dict) -> int:
    """Check a clip request against the video and queue the cut; returns the clip id."""
    job = require_job(connection, job_id)
    if job["status"] != "Processed" or not job["video_path"]:
        raise UserError("Clips can be cut once the job is Processed.", 409)
    candidate_id = values.get("candidate_id")
    if candidate_id not in (None, ""):
        candidate = db.get_candidate(connection, int(_seconds(candidate_id, "candidate_id")))
        if candidate is None or candidate["job_id"] != job_id:
            raise UserError("That clip candidate does not belong to this job.", 404)
        start, end, candidate_id = candidate["start"], candidate["end"], candidate["id"]
    else:
        start, end, candidate_id = _seconds(values.get("start"), "Start"), _seconds(values.get("end"), "End"), None
    duration = job["duration"]  # unknown (None or 0) when the video does not say how long it is
    longest = settings.clip_max_seconds * 10
    if start < 0 or (duration and end > duration + 0.05):
        raise UserError(f"The clip must lie within the video (0 to {duration or 0:.1f} s).")
    if end - start < 0.5:
        raise UserError("The clip must end at least half a second after it starts.")
    if end - start > longest:
        raise UserError(f"A clip may be at most {longest:.0f} s long.")
    clip_id = db.create_clip(connection, job_id, start, min(end, duration) if duration else end, _flag(values.get("captions")),
                             _flag(values.get("vertical")), candidate_id)
    worker.enqueue_clip(clip_id)
    return clip_id
