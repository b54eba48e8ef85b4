"""The whole analysis, stage by stage, resuming from the last stage whose files exist."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from . import candidates, combine, diarize, download, exports, media, transcribe
from .errors import MediaError
from .files import write_json_atomic, write_text_atomic
from .options import AnalysisOptions, ProgressCallback, no_progress
from .types import AnalysisResult, Diarization, SpeakerTurn, Transcript, VideoInfo, Word

RESULT_FILE = "result.json"
SCHEMA_VERSION = 1


def load_stage(path: Path) -> dict | None:
    """A finished stage's saved output, or None when it must run again."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _timed(timings: dict, stage: str, saved: dict | None, run):
    """Reuse a saved stage (with its recorded seconds) or run and time it."""
    if saved is not None:
        timings[stage] = saved["seconds"]
        return saved["data"], False
    started = time.perf_counter()
    data = run()
    timings[stage] = round(time.perf_counter() - started, 3)
    return data, True


def analyze(source: str, out_dir: str | Path, options: AnalysisOptions,
            progress: ProgressCallback = no_progress) -> AnalysisResult:
    """Download, transcribe, diarize and propose clips; write result.json and exports into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def stage_file(name: str) -> Path:
        return out_dir / name

    # Download: the video file must still be there for the saved metadata to count.
    saved = load_stage(stage_file("video.json"))
    if saved and not Path(saved["data"]["path"]).is_file():
        saved = None
    video_data, fresh = _timed(timings, "download", saved,
                               lambda: asdict(download.download(source, out_dir, options, progress)))
    if fresh:
        write_json_atomic(stage_file("video.json"), {"seconds": timings["download"], "data": video_data})
    video = VideoInfo(**video_data)

    wav = stage_file("audio.wav")
    if wav.exists():
        timings["audio"] = 0.0
    else:
        started = time.perf_counter()
        progress("audio", 0.0, "extracting")
        if not media.probe(video.path, options.ffmpeg_path).has_audio:
            raise MediaError("The video has no audio track, so there is nothing to transcribe.")
        media.extract_audio(video.path, wav, options.ffmpeg_path)
        timings["audio"] = round(time.perf_counter() - started, 3)
        progress("audio", 1.0, "done")

    transcript_data, fresh = _timed(timings, "transcribe", load_stage(stage_file("transcript.json")),
                                    lambda: asdict(transcribe.transcribe(str(wav), options, progress)))
    if fresh:
        write_json_atomic(stage_file("transcript.json"), {"seconds": timings["transcribe"], "data": transcript_data})
    transcript = Transcript(**{**transcript_data, "words": [Word(**w) for w in transcript_data["words"]]})

    turns_data, fresh = _timed(timings, "diarize", load_stage(stage_file("turns.json")),
                               lambda: _diarization_dict(diarize.diarize(str(wav), options, progress)))
    if fresh:
        write_json_atomic(stage_file("turns.json"), {"seconds": timings["diarize"], "data": turns_data})
    turns = [SpeakerTurn(**t) for t in turns_data["turns"]]

    started = time.perf_counter()
    progress("segments", 0.0, "combining")
    words = combine.assign_speakers(transcript.words, turns)
    segments = combine.build_segments(words)
    proposals = candidates.propose(segments, options.clip_min_seconds, options.clip_max_seconds)
    timings["segments"] = round(time.perf_counter() - started, 3)
    result = AnalysisResult(
        video=video, language=transcript.language, words=words, segments=segments, turns=turns,
        candidates=proposals, diarization_backend=turns_data["backend"],
        diarization_reason=turns_data["reason"], timings=timings,
    )
    write_text_atomic(stage_file("transcript.srt"), exports.to_srt(segments))
    write_text_atomic(stage_file("transcript.vtt"), exports.to_vtt(segments))
    write_text_atomic(stage_file("diarization.rttm"), exports.to_rttm(turns, uri=out_dir.name or "audio"))
    write_json_atomic(stage_file(RESULT_FILE), {"schema_version": SCHEMA_VERSION, **result.to_dict()})
    progress("segments", 1.0, f"{len(segments)} segments, {len(proposals)} candidates")
    return result


def _diarization_dict(diarization: Diarization) -> dict:
    return {"turns": [asdict(t) for t in diarization.turns], "backend": diarization.backend,
            "reason": diarization.reason}


def load_result(out_dir: str | Path) -> dict:
    """The saved result.json of a finished analysis."""
    return json.loads((Path(out_dir) / RESULT_FILE).read_text(encoding="utf-8"))
