"""Everything an analysis run can be told, in one dataclass."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

RESOLUTIONS = ("360p", "480p", "720p", "1080p", "best")
DIARIZATION_BACKENDS = ("auto", "embedded", "pyannote")

# progress(stage, fraction 0..1, detail); it may raise Cancelled to stop the run.
ProgressCallback = Callable[[str, float, str], None]


def no_progress(stage: str, fraction: float, detail: str = "") -> None:
    """Default progress callback: ignore."""


@dataclass
class AnalysisOptions:
    resolution: str = "720p"
    whisper_model: str = "base"
    compute_type: str = "default"  # resolved to int8 on CPU, float16 on CUDA
    device: str = "auto"
    language: Optional[str] = None
    diarization: str = "auto"
    num_speakers: Optional[int] = None
    min_speakers: Optional[int] = None
    max_speakers: Optional[int] = None
    pyannote_pipeline: str = "pyannote/speaker-diarization-community-1"
    hf_token: Optional[str] = None
    clip_min_seconds: float = 15.0
    clip_max_seconds: float = 60.0
    max_filesize_mb: Optional[int] = None
    max_duration_seconds: Optional[int] = None
    ffmpeg_path: Optional[str] = None
    models_dir: str = "instance/models"
    allow_local_files: bool = True

    def __post_init__(self):
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        if self.diarization not in DIARIZATION_BACKENDS:
            raise ValueError(f"diarization must be one of {', '.join(DIARIZATION_BACKENDS)}")
        if not 0 < self.clip_min_seconds <= self.clip_max_seconds:
            raise ValueError("clip length bounds must satisfy 0 < min <= max")
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= 20:
                raise ValueError(f"{name} must be between 1 and 20")
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
