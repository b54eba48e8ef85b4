"""What a person can do to jobs and clips; shared by the pages and the JSON API."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import db
import netguard
from pipeline.options import RESOLUTIONS

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
    if resolution not in RESOLUTIONS:
        raise UserError(f"Resolution must be one of {', '.join(RESOLUTIONS)}.")
    for url in urls:
        check_url(url, settings.allow_private_urls, settings.allowed_networks)
        existing = db.unfinished_job_for_url(connection, url)
        if existing:
            raise UserError(f"'{url[:100]}' is already in the queue (job {existing['id']}, {existing['status']}).", 409)
    job_ids = []
    with db.transaction(connection):
        for url in urls:
            job_ids.append(db.create_job(connection, url, resolution, speakers.num_speakers,
                                         speakers.min_speakers, speakers.max_speakers, user_id))
    for job_id in job_ids:
        db.set_job_status(connection, job_id, "Queued", step="queued")
        worker.announce_job(connection, job_id)  # before the worker can move it on
        worker.enqueue(job_id)
    return job_ids


def require_job(connection, job_id: int):
    job = db.get_job(connection, job_id)
    if job is None:
        raise UserError(f"There is no job {job_id}.", 404)
    return job


def may_change(user, job) -> bool:
    """Admins may cancel, retry and delete any job; members only the jobs they submitted."""
    return user.is_admin or (user.id is not None and job["user_id"] == user.id)


def check_may_change(connection, user, job_ids: list[int], action: str) -> None:
    for job_id in job_ids:
        job = require_job(connection, job_id)
        if not may_change(user, job):
            owner = f"{job['submitted_by']} submitted it" if job["submitted_by"] else "no current account submitted it"
            raise UserError(f"You may {action} only jobs you submitted: {owner} (job {job_id}).", 403)


def cancel(connection, worker, job_id: int) -> None:
    """Cancel a waiting job here, atomically; a running one is the job thread's to stop (it is asked)."""
    job = require_job(connection, job_id)
    if job["status"] not in db.UNFINISHED_STATUSES:
        raise UserError(f"Job {job_id} is {job['status']}; only queued or running jobs can be cancelled.", 409)
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
    for job_id in job_ids:
        if not worker.delete(connection, job_id):
            raise UserError(f"Job {job_id} could not be stopped and deleted in time; try again.", 503)
    return len(job_ids)


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
