"""Videos, clips and transcript files, served only from their own folders."""
from __future__ import annotations

import json
import time
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request, send_from_directory

import clips
import db
import speakers
from pipeline import exports
from pipeline.types import Segment, SpeakerTurn
from worker import clips_dir, job_dir

bp = Blueprint("files", __name__)

TRANSCRIPT_FILES = {"srt": ("transcript.srt", "application/x-subrip"),
                    "vtt": ("transcript.vtt", "text/vtt"),
                    "rttm": ("diarization.rttm", "text/plain"),
                    "json": ("result.json", "application/json")}
SPEAKER_FIELDS = ("words", "segments", "turns")


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
    """The transcript and turns with the speakers' names as they are now (made from the database)."""
    connection = db.get_db()
    job = db.get_job(connection, job_id)
    if kind not in TRANSCRIPT_FILES or job is None or job["status"] != "Processed":
        abort(404)
    name, mimetype = TRANSCRIPT_FILES[kind]
    folder = job_dir(_settings(), job_id)
    if kind == "json" and not (folder / name).is_file():
        abort(404)
    names = speakers.display_names(connection, job_id)
    if kind == "json":
        result = json.loads((folder / name).read_text(encoding="utf-8"))
        result["speakers"] = [{"id": label, "name": shown if shown != label else None} for label, shown in names.items()]
        for field in SPEAKER_FIELDS:
            for item in result.get(field, []):
                item["speaker_name"] = names.get(item.get("speaker"), item.get("speaker"))
        body = json.dumps(result, indent=2, ensure_ascii=False)
    elif kind == "rttm":
        turns = [SpeakerTurn(t["start"], t["end"], names.get(t["speaker"], t["speaker"]).replace(" ", "_"))
                 for t in db.turns_for(connection, job_id)]
        body = exports.to_rttm(turns, uri=f"job-{job_id}")
    else:
        segments = [Segment(s["start"], s["end"], names.get(s["speaker"], s["speaker"]), s["text"], s["kind"],
                            s["sentiment"], 0) for s in db.segments_for(connection, job_id)]
        body = exports.to_srt(segments) if kind == "srt" else exports.to_vtt(segments)
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="job-{job_id}-{name}"'})


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
