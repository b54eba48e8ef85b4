"""The whole analysis, stage by stage, reusing each saved stage whose inputs have not changed.

Stages and their files (the folder's manifest.json records what made each one, see manifest.py):
download (video.*, video.json) -> audio (audio.wav) -> transcribe (transcript.json) and
diarize (turns.json), which run side by side -> segments, candidates and exports (always redone:
they take milliseconds and depend on every option).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict
from pathlib import Path

from . import candidates, combine, diarize, download, exports, heap, media, threads, transcribe
from .errors import MediaError
from .files import write_json_atomic, write_text_atomic
from .manifest import Manifest, stage_key
from .options import AnalysisOptions, ProgressCallback, no_progress
from .types import AnalysisResult, Diarization, SpeakerTurn, Transcript, VideoInfo, Word

RESULT_FILE = "result.json"
SCHEMA_VERSION = 2


def _source_identity(source: str, options: AnalysisOptions) -> dict:
    """A URL by its text; a local file also by its size and time, so a replaced file is read again."""
    identity = {"source": source, "resolution": options.resolution}
    if not download.is_url(source) and Path(source).is_file():
        stat = Path(source).stat()
        identity.update(size=stat.st_size, mtime=stat.st_mtime)
    return identity


def _read_data(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text(encoding="utf-8"))


class _Stages:
    """One analysis's view of its folder: which stages can be reused, and recording the new ones."""

    def __init__(self, folder: Path, source: str):
        self.folder, self.source = folder, source
        self.manifest = Manifest.load(folder)
        self.timings: dict[str, float] = {}
        self.key: str | None = None  # the last stage's key: the next stage's upstream

    def reuse(self, stage: str, inputs: dict) -> dict | None:
        key = stage_key(inputs, self.key)
        entry = self.manifest.reusable(stage, key)
        if entry is not None:
            self.timings[stage] = entry["seconds"]
            self.key = key
        return entry

    def record(self, stage: str, inputs: dict, files: list[str], seconds: float) -> None:
        self.key = stage_key(inputs, self.key)
        self.timings[stage] = round(seconds, 3)
        self.manifest.record(stage, self.key, inputs, files, seconds, self.source)


def analyze(source: str, out_dir: str | Path, options: AnalysisOptions,
            progress: ProgressCallback = no_progress) -> AnalysisResult:
    """Download, transcribe, diarize and propose clips; write result.json and exports into out_dir."""
    heap.share_heaps()  # also here: the command line analyses without a warm-up
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stages = _Stages(folder, source)

    video = _download(stages, source, options, progress)
    wav = _audio(stages, video, options, progress)
    transcript, diarization = _transcribe_and_diarize(stages, wav, options, progress)

    started = time.perf_counter()
    progress("segments", 0.0, "combining")
    words = combine.assign_speakers(transcript.words, diarization.turns)
    segments = combine.build_segments(words)
    proposals = candidates.propose(segments, options.clip_min_seconds, options.clip_max_seconds)
    stages.timings["segments"] = round(time.perf_counter() - started, 3)
    result = AnalysisResult(
        video=video, language=transcript.language, words=words, segments=segments, turns=diarization.turns,
        candidates=proposals, diarization_backend=diarization.backend, diarization_reason=diarization.reason,
        voiceprints=diarization.voiceprints, voiceprint_model=diarization.voiceprint_model, timings=stages.timings,
    )
    write_text_atomic(folder / "transcript.srt", exports.to_srt(segments))
    write_text_atomic(folder / "transcript.vtt", exports.to_vtt(segments))
    write_text_atomic(folder / "diarization.rttm", exports.to_rttm(diarization.turns, uri=folder.name or "audio"))
    write_json_atomic(folder / RESULT_FILE, {"schema_version": SCHEMA_VERSION, **result.to_dict(),
                                             "overlaps": combine.overlaps(diarization.turns)})
    progress("segments", 1.0, f"{len(segments)} segments, {len(proposals)} candidates")
    return result


def warm_up(options: AnalysisOptions) -> None:
    """Load what an analysis uses (Whisper, the speaker models, VADER's lexicon, pyannote.core for
    RTTM, which imports matplotlib: 1.2 s), so the first job pays no start-up cost."""
    heap.share_heaps()  # before the models start their threads
    transcribe.load_model(options)
    threads.use_torch_threads(threads.speaker_threads(beside_whisper=True))  # as a new job's diarization runs
    diarize.warm_up()
    combine.sentiment("")
    exports.to_rttm([], uri="warm-up")


def saved_video(out_dir: str | Path) -> VideoInfo | None:
    """The downloaded video's description, once the download stage has saved it."""
    folder = Path(out_dir)
    try:
        data = _read_data(folder, "video.json")
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return VideoInfo(**{**data, "path": str(folder / data["path"])})


def _download(stages: _Stages, source: str, options: AnalysisOptions, progress) -> VideoInfo:
    inputs = _source_identity(source, options)
    if not stages.reuse("download", inputs):
        started = time.perf_counter()
        video = download.download(source, stages.folder, options, progress)
        data = {**asdict(video), "path": Path(video.path).name}  # relative: the folder may move
        write_json_atomic(stages.folder / "video.json", data)
        stages.record("download", inputs, [data["path"], "video.json"], time.perf_counter() - started)
    return saved_video(stages.folder)


def _audio(stages: _Stages, video: VideoInfo, options: AnalysisOptions, progress) -> Path:
    wav = stages.folder / "audio.wav"
    inputs = {"sample_rate": 16000, "channels": 1}
    if not stages.reuse("audio", inputs):
        started = time.perf_counter()
        progress("audio", 0.0, "extracting")
        if not media.probe(video.path, options.ffmpeg_path).has_audio:
            raise MediaError("The video has no audio track, so there is nothing to transcribe.")
        media.extract_audio(video.path, wav, options.ffmpeg_path)
        stages.record("audio", inputs, [wav.name], time.perf_counter() - started)
        progress("audio", 1.0, "done")
    return wav


def _transcribe_and_diarize(stages: _Stages, wav: Path, options: AnalysisOptions,
                            progress) -> tuple[Transcript, Diarization]:
    """Transcription in this thread while diarization listens in another (pipeline.threads says why);
    then diarization finishes with the transcript's words. Both threads' modules are imported before
    the second starts: two threads importing one package at once can see it half initialised."""
    transcribe_inputs = transcribe.model_identity(options)
    reused_transcript = stages.reuse("transcribe", transcribe_inputs)
    diarize_inputs = diarize.identity(options)
    reused_turns = reused_transcript and stages.reuse("diarize", diarize_inputs)
    if reused_turns:
        return _load_transcript(stages.folder), _load_diarization(stages.folder)

    listening: dict = {}

    def listen() -> None:
        started = time.perf_counter()
        try:
            listening["result"] = diarize.listen(str(wav), options)
        except BaseException as error:  # re-raised in the analysis thread
            listening["error"] = error
        listening["seconds"] = time.perf_counter() - started

    if reused_transcript:
        transcript = _load_transcript(stages.folder)
        progress("diarize", 0.0, options.diarization)
        threads.use_torch_threads(threads.speaker_threads(beside_whisper=False))
        listen()
    else:
        threads.use_torch_threads(threads.speaker_threads(beside_whisper=True))
        listener = threading.Thread(target=listen, name="diarize-listen", daemon=True)
        listener.start()
        started = time.perf_counter()
        transcript = transcribe.transcribe(str(wav), options, progress)
        write_json_atomic(stages.folder / "transcript.json", asdict(transcript))
        stages.record("transcribe", transcribe_inputs, ["transcript.json"], time.perf_counter() - started)
        progress("diarize", 0.0, options.diarization)
        listener.join()
    if "error" in listening:
        raise listening["error"]
    started = time.perf_counter()
    heard = [(word.start, word.end) for word in transcript.words]
    diarization = diarize.finish(listening["result"], options, heard)
    write_json_atomic(stages.folder / "turns.json", asdict(diarization))
    stages.record("diarize", diarize_inputs, ["turns.json"], listening["seconds"] + time.perf_counter() - started)
    progress("diarize", 1.0, f"{len(diarization.speakers)} speakers")
    return transcript, diarization


def _load_transcript(folder: Path) -> Transcript:
    data = _read_data(folder, "transcript.json")
    return Transcript(**{**data, "words": [Word(**w) for w in data["words"]]})


def _load_diarization(folder: Path) -> Diarization:
    data = _read_data(folder, "turns.json")
    return Diarization(**{**data, "turns": [SpeakerTurn(**t) for t in data["turns"]]})


def load_result(out_dir: str | Path) -> dict:
    """The saved result.json of a finished analysis."""
    return json.loads((Path(out_dir) / RESULT_FILE).read_text(encoding="utf-8"))

