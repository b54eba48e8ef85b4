"""What a person can do with speakers: name them, accept or reject a suggested name, rename and merge people.

A speaker is one voice in one video, as the diarizer labelled it (SPEAKER_00...), with its
voiceprint. Naming it links it to a person; the person's name then shows wherever the label
did. A named voice is recognised in later videos: an unnamed speaker whose voiceprint is close
enough to a person's (the mean of that person's voiceprints in other videos, same model) is
shown as "looks like <name>" until accepted or rejected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import db
from jobs import UserError

# Cosine similarity (CAM++ voiceprints) from which a voice is suggested as a known person's. Chosen
# on the real-voice dev split (make bench-quality): from 0.50 to 0.77 every known voice is suggested
# right; false suggestions fall from 11.6 % to 2.3 % (1 of 43 speakers) at 0.70-0.77, and above 0.77
# right ones drop (92 % at 0.78, 89.5 % at 0.80). 0.75 sits inside that plateau.
SUGGEST_SIMILARITY = 0.75
MAX_NAME_LENGTH = 80


@dataclass
class Suggestion:
    person_id: int
    name: str
    similarity: float


def _clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if len(name) > MAX_NAME_LENGTH:
        raise UserError(f"A name may be at most {MAX_NAME_LENGTH} characters.")
    return name


def require_speaker(connection, job_id: int, label: str):
    speaker = db.get_speaker(connection, job_id, label)
    if speaker is None:
        raise UserError(f"Job {job_id} has no speaker {label}.", 404)
    return speaker


def name_speaker(connection, job_id: int, label: str, name) -> str | None:
    """Give a speaker a person's name (the person is created when new); an empty name unnames it."""
    speaker = require_speaker(connection, job_id, label)
    name = _clean_name(name)
    with db.transaction(connection):
        if not name:
            db.set_speaker_person(connection, speaker["id"], None)
        else:
            person = db.person_by_name(connection, name)
            person_id = person["id"] if person else db.create_person(connection, name)
            db.set_speaker_person(connection, speaker["id"], person_id)
        db.delete_unused_people(connection)
    return name or None


def person_voiceprints(connection, model: str, job_id: int) -> dict[int, tuple[str, np.ndarray]]:
    """Each named person's voiceprint in `model`'s space, from videos other than `job_id`."""
    sums: dict[int, tuple[str, np.ndarray]] = {}
    for row in db.known_voiceprints(connection, model, job_id):
        vector = np.asarray(db.unpack_vector(row["voiceprint"]), dtype=np.float64)
        name, total = sums.get(row["person_id"], (row["name"], np.zeros_like(vector)))
        sums[row["person_id"]] = (name, total + vector)
    return {person: (name, total / max(np.linalg.norm(total), 1e-9)) for person, (name, total) in sums.items()}


def suggestions(connection, job_id: int) -> dict[str, Suggestion]:
    """{label: Suggestion} for the job's unnamed speakers whose voice is a known person's."""
    found: dict[str, Suggestion] = {}
    people_by_model: dict[str, dict] = {}
    for speaker in db.speakers_for(connection, job_id):
        if speaker["person_id"] or speaker["voiceprint"] is None:
            continue
        model = speaker["voiceprint_model"]
        if model not in people_by_model:
            people_by_model[model] = person_voiceprints(connection, model, job_id)
        voice = np.asarray(db.unpack_vector(speaker["voiceprint"]), dtype=np.float64)
        rejected = db.rejected_people(connection, speaker["id"])
        best = max(((float(voice @ vector), person, name) for person, (name, vector) in people_by_model[model].items()
                    if person not in rejected), default=None)
        if best and best[0] >= SUGGEST_SIMILARITY:
            found[speaker["label"]] = Suggestion(best[1], best[2], round(best[0], 2))
    return found


def answer_suggestion(connection, job_id: int, label: str, accept: bool) -> None:
    """Accept (the speaker takes the suggested person's name) or reject (never suggest that person again)."""
    speaker = require_speaker(connection, job_id, label)
    suggestion = suggestions(connection, job_id).get(label)
    if suggestion is None:
        raise UserError(f"There is no name suggested for {label} any more.", 409)
    if accept:
        db.set_speaker_person(connection, speaker["id"], suggestion.person_id)
    else:
        db.reject_suggestion(connection, speaker["id"], suggestion.person_id)


def rename_person(connection, person_id: int, name) -> None:
    person = require_person(connection, person_id)
    name = _clean_name(name)
    if not name:
        raise UserError("Give the person a name.")
    other = db.person_by_name(connection, name)
    if other and other["id"] != person["id"]:
        raise UserError(f"There is already someone called {other['name']}; merge the two instead.", 409)
    db.rename_person(connection, person_id, name)


def merge_people(connection, person_id: int, into_id: int) -> None:
    require_person(connection, person_id)
    require_person(connection, into_id)
    if person_id == into_id:
        raise UserError("Choose another person to merge with.")
    db.merge_people(connection, person_id, into_id)


def require_person(connection, person_id: int):
    person = db.get_person(connection, person_id)
    if person is None:
        raise UserError(f"There is no person {person_id}.", 404)
    return person


def display_names(connection, job_id: int) -> dict[str, str]:
    """{label: what to show}: the person's name where named, the label otherwise."""
    names = db.speaker_names(connection, job_id)
    return {row["label"]: names.get(row["label"], row["label"]) for row in db.speakers_for(connection, job_id)}
