"""Plain result records shared by every stage; no behaviour hidden in them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class VideoInfo:
    """What we know about the downloaded (or local) video."""
    source: str
    path: str
    title: str
    duration: float
    uploader: str | None = None
    thumbnail: str | None = None
    webpage_url: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0
    speaker: str | None = None


@dataclass
class Transcript:
    language: str
    language_probability: float
    duration: float
    words: list[Word] = field(default_factory=list)


@dataclass
class SpeakerTurn:
    start: float
    end: float
    speaker: str


@dataclass
class Diarization:
    """Speaker turns plus which backend produced them and why that one.

    Turns of different speakers may overlap where the backend heard two people at once.
    `voiceprints` holds one embedding per speaker, in the space of `voiceprint_model`.
    """
    turns: list[SpeakerTurn]
    backend: str
    reason: str
    voiceprints: dict[str, list[float]] = field(default_factory=dict)
    voiceprint_model: str | None = None

    @property
    def speakers(self) -> list[str]:
        return sorted({turn.speaker for turn in self.turns})


@dataclass
class Segment:
    """A stretch of one speaker's speech: a sentence, or up to a pause."""
    start: float
    end: float
    speaker: str
    text: str
    kind: str  # question | answer | statement
    sentiment: float  # VADER compound score, -1..1
    word_count: int


@dataclass
class Candidate:
    """A proposed clip: consecutive segments with the reasons it scored well."""
    start: float
    end: float
    score: float
    reasons: list[str]
    first_segment: int
    last_segment: int
    text: str


@dataclass
class AnalysisResult:
    video: VideoInfo
    language: str
    words: list[Word]
    segments: list[Segment]
    turns: list[SpeakerTurn]
    candidates: list[Candidate]
    diarization_backend: str
    diarization_reason: str
    timings: dict[str, float]
    voiceprints: dict[str, list[float]] = field(default_factory=dict)
    voiceprint_model: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)
