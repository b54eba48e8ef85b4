"""Transcript and turn exports: SRT, WebVTT (with voice tags) and RTTM."""
from __future__ import annotations

from datetime import timedelta

from .types import Segment, SpeakerTurn


def to_srt(segments: list[Segment]) -> str:
    import srt
    return srt.compose([
        srt.Subtitle(index=i + 1, start=timedelta(seconds=s.start), end=timedelta(seconds=s.end),
                     content=f"[{s.speaker}] {s.text}")
        for i, s in enumerate(segments)
    ])


def _vtt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def to_vtt(segments: list[Segment]) -> str:
    import webvtt
    vtt = webvtt.WebVTT()
    for s in segments:
        vtt.captions.append(webvtt.Caption(_vtt_time(s.start), _vtt_time(s.end), f"<v {s.speaker}>{s.text}"))
    return vtt.content


def to_rttm(turns: list[SpeakerTurn], uri: str) -> str:
    from pyannote.core import Annotation, Segment as Span
    annotation = Annotation(uri=uri)
    for i, turn in enumerate(turns):
        annotation[Span(turn.start, turn.end), i] = turn.speaker
    return annotation.to_rttm()
