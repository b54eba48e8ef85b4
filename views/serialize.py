"""Rows as JSON: the one shape the API, the event stream and the page scripts share."""
from __future__ import annotations

import json

from flask import url_for

from jobs import limit_note


def job_dict(job) -> dict:
    return {
        "id": job["id"], "url": job["url"], "title": job["title"], "status": job["status"],
        "step": job["step"], "progress": job["progress"], "detail": job["detail"], "error": job["error"],
        "resolution": job["resolution"], "num_speakers": job["num_speakers"],
        "min_speakers": job["min_speakers"], "max_speakers": job["max_speakers"],
        "duration": job["duration"], "uploader": job["uploader"], "thumbnail": job["thumbnail"],
        "webpage_url": job["webpage_url"], "language": job["language"],
        "diarization_backend": job["diarization_backend"], "diarization_reason": job["diarization_reason"],
        "timings": json.loads(job["timings"]) if job["timings"] else None,
        "submitted_by": job["submitted_by"],
        "created_at": job["created_at"], "updated_at": job["updated_at"], "finished_at": job["finished_at"],
        "group_id": job["group_id"], "uploaded": bool(job["uploaded"]),
        "details_url": url_for("pages.details", job_id=job["id"]),
    }


def group_dict(group, counts: dict[str, int]) -> dict:
    """A playlist's group, with its jobs counted by status."""
    return {
        "id": group["id"], "url": group["url"], "title": group["title"], "queued": group["queued"],
        "video_count": group["video_count"], "more": bool(group["more"]),
        "note": limit_note(group["queued"], group["video_count"], group["more"]),
        "counts": counts, "total": sum(counts.values()), "submitted_by": group["submitted_by"],
        "created_at": group["created_at"],
    }


def segment_dict(segment, names: dict) -> dict:
    """`names`: {label: name} of the job's named speakers."""
    return {**{key: segment[key] for key in ("id", "position", "start", "end", "speaker", "text", "kind", "sentiment")},
            "speaker_name": names.get(segment["speaker"])}


def turn_dict(turn, names: dict) -> dict:
    return {**{key: turn[key] for key in ("start", "end", "speaker")}, "speaker_name": names.get(turn["speaker"])}


def speaker_dict(speaker, suggestion) -> dict:
    """A job's speaker: its label, the person's name when named, and a suggested name by voice."""
    return {"label": speaker["label"], "name": speaker["name"], "person_id": speaker["person_id"],
            "seconds": speaker["seconds"], "has_voiceprint": speaker["voiceprint"] is not None,
            "suggestion": None if suggestion is None else {"person_id": suggestion.person_id, "name": suggestion.name,
                                                           "similarity": suggestion.similarity}}


def person_dict(person) -> dict:
    return {"id": person["id"], "name": person["name"], "videos": person["videos"], "seconds": person["seconds"]}


def overlaps_of(turns) -> list[dict]:
    """Where two or more speakers talk at once (only backends that detect overlap give such turns)."""
    from pipeline.combine import overlaps
    from pipeline.types import SpeakerTurn
    return overlaps([SpeakerTurn(t["start"], t["end"], t["speaker"]) for t in turns])


def candidate_dict(candidate) -> dict:
    return {"id": candidate["id"], "rank": candidate["rank"], "start": candidate["start"], "end": candidate["end"],
            "score": candidate["score"], "reasons": json.loads(candidate["reasons"]), "text": candidate["text"]}


def clip_dict(clip) -> dict:
    created = clip["status"] == "Created"
    return {
        "id": clip["id"], "job_id": clip["job_id"], "candidate_id": clip["candidate_id"],
        "start": clip["start"], "end": clip["end"], "captions": bool(clip["captions"]),
        "vertical": bool(clip["vertical"]), "status": clip["status"], "error": clip["error"],
        "url": url_for("files.clip", clip_id=clip["id"]) if created else None,
        "download_url": url_for("files.clip", clip_id=clip["id"], download=1) if created else None,
    }


def library_clip_dict(clip) -> dict:
    """A clip in a list across videos: clip_dict with its video's title and when it was made."""
    return {**clip_dict(clip), "job_title": clip["job_title"], "created_at": clip["created_at"]}


def hit_dict(hit) -> dict:
    """A search hit with the links a page offers: play from its start, and clip it (the details
    page's custom range filled in around it)."""
    return {
        "segment_id": hit.segment_id, "job_id": hit.job_id, "title": hit.title, "start": hit.start, "end": hit.end,
        "speaker": hit.speaker, "speaker_name": hit.speaker_name, "text": hit.text,
        "snippet": [{"text": text, "match": match} for text, match in hit.snippet],
        "score": hit.score, "clip_start": hit.clip_start, "clip_end": hit.clip_end,
        "url": url_for("pages.details", job_id=hit.job_id, t=hit.start),
        "clip_url": url_for("pages.details", job_id=hit.job_id, t=hit.start, start=hit.clip_start, end=hit.clip_end,
                            _anchor="custom-clip"),
    }


def results_dict(results) -> dict:
    return {"query": results.query, "speaker": results.speaker, "job": results.job_id,
            "hits": [hit_dict(hit) for hit in results.hits], "limit": results.limit, "offset": results.offset,
            "more": results.more, "partial": results.partial}
