"""A job folder's manifest: what made each saved stage, so a stage is reused only when its inputs match.

Like Make or DVC: each stage has a key, the hash of its own inputs (source, model, compute type,
backend, speaker options, versions...) and of the key of the stage before it, so a change anywhere
reruns that stage and every stage after it. Paths are relative to the folder, so a moved install
keeps its results.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .files import write_json_atomic

FILE = "manifest.json"
SCHEMA = 1


def stage_key(inputs: dict, upstream: str | None) -> str:
    """A short hash naming exactly what a stage was (or would be) made from."""
    text = json.dumps({"inputs": inputs, "upstream": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Manifest:
    folder: Path
    source: str | None = None
    stages: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path) -> "Manifest":
        """The folder's manifest; an empty one when there is none (or it is unreadable: everything reruns)."""
        folder = Path(folder)
        try:
            data = json.loads((folder / FILE).read_text(encoding="utf-8"))
            if data.get("schema") == SCHEMA:
                return cls(folder, data.get("source"), data.get("stages", {}))
        except (FileNotFoundError, json.JSONDecodeError, AttributeError):
            pass
        return cls(folder)

    def reusable(self, stage: str, key: str) -> dict | None:
        """The saved stage when it was made from the same inputs and its files are all still there."""
        entry = self.stages.get(stage)
        if not entry or entry.get("key") != key:
            return None
        if not all((self.folder / name).is_file() for name in entry.get("files", [])):
            return None
        return entry

    def record(self, stage: str, key: str, inputs: dict, files: list[str], seconds: float, source: str) -> None:
        """Remember a finished stage (written at once: the next stage may never finish)."""
        self.source = source
        self.stages[stage] = {"key": key, "inputs": inputs, "files": files, "seconds": round(seconds, 3)}
        write_json_atomic(self.folder / FILE, {"schema": SCHEMA, "source": self.source, "stages": self.stages})
