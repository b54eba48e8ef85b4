"""Videos, clips and transcript files, served only from their own folders."""
from __future__ import annotations

import time
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request, send_from_directory

import clips
import db
from worker import clips_dir, job_dir

bp = Blueprint("files", __name__)

TRANSCRIPT_FILES = {"srt": ("transcript.srt", "application/x-subrip"),
                    "vtt": ("transcript.vtt", "text/vtt"),
                    "rttm": ("diarization.rttm", "text/plain"),
                    "json": ("result.json", "application/json")}


def _settings():
    return current_app.config["SETTINGS"]


@bp.get("/jobs/<int:job_id>/video")
def video(job_id: int):
    job = db.get_job(db.get_db(), job_id)
    if job is None or not job["video_path"]:
        abort(404)
    folder = job_dir(_settings(), job_id)
    # send_from_directory refuses any name that escapes the folder.
    return send_from_directory(folder, Path(job["video_path"]).name, conditional=True)


@bp.get("/jobs/<int:job_id>/transcript.<kind>")
def transcript(job_id: int, kind: str):
    if kind not in TRANSCRIPT_FILES or db.get_job(db.get_db(), job_id) is None:
        abort(404)
    name, mimetype = TRANSCRIPT_FILES[kind]
    return send_from_directory(job_dir(_settings(), job_id), name, mimetype=mimetype, as_attachment=True,
                               download_name=f"job-{job_id}-{name}")


@bp.get("/clips/<int:clip_id>.mp4")
def clip(clip_id: int):
    row = db.get_clip(db.get_db(), clip_id)
    if row is None or row["status"] != "Created":
        abort(404)
    return send_from_directory(clips_dir(_settings(), row["job_id"]), row["filename"], mimetype="video/mp4",
                               conditional=True, as_attachment=bool(request.args.get("download")))


def zip_of_clips(files) -> Response:
    """Opened clip files (clips.open_for_zip) as one zip download, written as it is sent; the files
    are closed when the response is, whether or not the download finished."""
    response = Response(clips.zip_stream(files), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="clips-{time.strftime("%Y%m%d-%H%M%S")}.zip"'})
    response.call_on_close(lambda: clips.close_all(files))
    return response
