"""ffmpeg and ffprobe: probing, audio extraction and frame-accurate clip cutting."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import MediaError

PROBE_TIMEOUT = 60
VERIFY_TIMEOUT = 5 * 60  # reading every packet of a few GB
EXTRACT_TIMEOUT = 60 * 60
CUT_TIMEOUT = 30 * 60

log = logging.getLogger(__name__)


# The containers an uploaded file may be (ffprobe's demuxer name -> the suffix it is stored with).
# Each holds its own media; formats that name other files or addresses (HLS and DASH playlists,
# concat lists, SDP...) are not among them: ffmpeg would read what they name, past the address guard.
UPLOAD_FORMATS = {"mov": ".mp4", "matroska": ".mkv", "avi": ".avi", "mpegts": ".ts", "mpeg": ".mpg",
                  "flv": ".flv", "asf": ".wmv", "ogg": ".ogg", "mp3": ".mp3", "wav": ".wav", "flac": ".flac",
                  "aac": ".aac", "aiff": ".aiff"}


@dataclass
class MediaInfo:
    duration: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    format_name: str = ""  # ffprobe's, e.g. "mov,mp4,m4a,3gp,3g2,mj2"


def ffmpeg_binary(ffmpeg_path: str | None = None) -> str:
    """The ffmpeg to run: FFMPEG_PATH (a file or a folder) or the one on PATH."""
    if ffmpeg_path:
        path = Path(ffmpeg_path)
        candidate = path / "ffmpeg" if path.is_dir() else path
        if candidate.is_file():
            return str(candidate)
        raise MediaError(f"FFMPEG_PATH points to {ffmpeg_path}, where there is no ffmpeg.")
    found = shutil.which("ffmpeg")
    if not found:
        raise MediaError("ffmpeg is not installed. Install it (apt-get install ffmpeg) or set FFMPEG_PATH.")
    return found


def ffprobe_binary(ffmpeg_path: str | None = None) -> str:
    """ffprobe lives beside ffmpeg."""
    ffmpeg = Path(ffmpeg_binary(ffmpeg_path))
    sibling = ffmpeg.with_name(ffmpeg.name.replace("ffmpeg", "ffprobe"))
    if sibling.is_file():
        return str(sibling)
    found = shutil.which("ffprobe")
    if not found:
        raise MediaError(f"ffprobe was not found beside {ffmpeg}.")
    return found


def _run(args: list[str], timeout: float, what: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise MediaError(f"{what} took longer than {int(timeout)} s and was stopped.") from None
    if done.returncode != 0:
        last_line = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No space left on device" in done.stderr:
            raise MediaError(f"{what} failed: the disk is full (no space left on device).")
        raise MediaError(f"{what} failed: {last_line}")
    return done


def probe(path: str | os.PathLike, ffmpeg_path: str | None = None) -> MediaInfo:
    """Read duration and streams; a damaged or non-media file raises MediaError."""
    return _probe(path, ffmpeg_path, [], PROBE_TIMEOUT)[0]


def verify_upload(path: str | os.PathLike, ffmpeg_path: str | None = None) -> MediaInfo:
    """Probe a file a person uploaded, reading every packet (no decoding): it must be one of
    UPLOAD_FORMATS, whole, with audio. ffprobe may open no other file or address while it looks."""
    try:
        info, warnings = _probe(path, ffmpeg_path, ["-protocol_whitelist", "file", "-format_whitelist",
                                                    ",".join(UPLOAD_FORMATS), "-count_packets"], VERIFY_TIMEOUT)
    except MediaError as error:
        if "Invalid argument" not in str(error):  # what ffprobe says of a format not on the list
            raise
        raise MediaError("The file is not in a format this app takes: upload a video or audio file "
                         "(MP4, MOV, MKV, WebM, AVI, MPEG, FLV, WMV, Ogg, MP3, WAV, FLAC, AAC or AIFF).") from None
    if "partial file" in warnings:  # what ffmpeg says of a file cut short (see extract_audio)
        raise MediaError("The file is truncated: it ends before the end its index declares "
                         "(an incomplete copy or a damaged file).")
    if not info.has_audio:
        raise MediaError("The file has no audio track, so there is nothing to transcribe.")
    return info


def _probe(path, ffmpeg_path, options: list[str], timeout: float) -> tuple[MediaInfo, str]:
    """(what ffprobe read, its warnings)."""
    args = [ffprobe_binary(ffmpeg_path), "-v", "error", *options, "-print_format", "json",
            "-show_format", "-show_streams", str(path)]
    try:
        done = _run(args, timeout, "Reading the video")
    except MediaError as error:
        # ffprobe names the file first; the person already knows which file it is.
        reason = str(error).replace(f"{path}: ", "")
        raise MediaError(f"The file is damaged or is not a video ({reason}).") from None
    data = json.loads(done.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    # The container's duration, else its longest stream's; 0 when neither says (see measure_duration).
    duration = float(data.get("format", {}).get("duration") or 0) or max(
        (float(s["duration"]) for s in streams if s.get("duration") not in (None, "N/A")), default=0.0)
    if not streams or (video is None and audio is None):
        raise MediaError("The file is damaged or is not a video (no audio or video stream found).")
    return MediaInfo(
        duration=duration,
        has_video=video is not None,
        has_audio=audio is not None,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        format_name=data.get("format", {}).get("format_name", ""),
    ), done.stderr


def measure_duration(path: str | os.PathLike, ffmpeg_path: str | None = None) -> float:
    """How long a file that does not say so plays, found by decoding its audio (its video if it has
    none) to nowhere; 0.0 if nothing decodes."""
    for stream in ("0:a:0?", "0:v:0?"):
        done = _run([ffmpeg_binary(ffmpeg_path), "-nostdin", "-v", "error", "-i", str(path), "-map", stream,
                     "-f", "null", "-progress", "pipe:1", "-"], EXTRACT_TIMEOUT, "Measuring the video's length")
        times = [int(line[len("out_time_us="):]) for line in done.stdout.splitlines()
                 if line.startswith("out_time_us=") and line[len("out_time_us="):].isdigit()]
        if any(times):
            return round(max(times) / 1e6, 3)
    return 0.0


def extract_audio(video: str | os.PathLike, wav: str | os.PathLike, ffmpeg_path: str | None = None) -> Path:
    """Write 16 kHz mono 16-bit WAV, the input every model here expects."""
    wav = Path(wav)
    partial = wav.with_name(wav.name + ".part.wav")
    args = [ffmpeg_binary(ffmpeg_path), "-nostdin", "-y", "-v", "error", "-i", str(video),
            "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(partial)]
    try:
        done = _run(args, EXTRACT_TIMEOUT, "Extracting the audio")
        # ffmpeg exits 0 on an MP4 cut short (its index promises more than the file holds);
        # going on would transcribe only the part that arrived as if it were the whole video.
        if "partial file" in done.stderr:
            raise MediaError("The video file is truncated (an incomplete download or a damaged upload): "
                             "its audio stops before the end its index declares.")
        os.replace(partial, wav)
    finally:
        partial.unlink(missing_ok=True)
    return wav


@dataclass
class Caption:
    start: float
    end: float
    text: str


def _write_clip_srt(captions: list[Caption], start: float, end: float, path: Path) -> None:
    """Captions overlapping [start, end], shifted so the clip starts at zero."""
    import srt
    from datetime import timedelta

    entries = []
    for caption in captions:
        if caption.end <= start or caption.start >= end:
            continue
        entries.append(srt.Subtitle(
            index=len(entries) + 1,
            start=timedelta(seconds=max(caption.start, start) - start),
            end=timedelta(seconds=min(caption.end, end) - start),
            content=caption.text,
        ))
    path.write_text(srt.compose(entries), encoding="utf-8")


def cut_clip(video: str | os.PathLike, start: float, end: float, out: str | os.PathLike,
             captions: list[Caption] | None = None, vertical: bool = False,
             ffmpeg_path: str | None = None) -> Path:
    """Cut [start, end] exactly to H.264/AAC with +faststart.

    A plain cut of an H.264 MP4 re-encodes only its two ends and copies the rest (smartcut);
    captions, 9:16, other sources, short clips, and anything unexpected there re-encode it whole.
    """
    if end <= start:
        raise MediaError("The clip must end after it starts.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not captions and not vertical:
        from . import smartcut  # PyAV, loaded only by the process that cuts clips

        try:
            return smartcut.cut(video, start, end, out, ffmpeg_path)
        except smartcut.Unsuitable as reason:
            log.info("cutting %s by re-encoding it whole: %s", out.name, reason)
        except Exception:  # the clip must never be wrong: whatever went wrong, the whole re-encode decides
            log.warning("copying the middle of %s failed; re-encoding it whole", out.name, exc_info=True)
    return _reencode_clip(video, start, end, out, captions, vertical, ffmpeg_path)


def _reencode_clip(video: str | os.PathLike, start: float, end: float, out: Path,
                   captions: list[Caption] | None, vertical: bool, ffmpeg_path: str | None) -> Path:
    """Re-encode [start, end] whole, with captions burned in and cropped to 9:16 when asked.

    `-ss` before `-i` seeks fast and ffmpeg still decodes up to the exact frame.
    """
    # Working files sit beside the clip under fixed names: a cut killed midway leaves them in the
    # clip's own folder (deleted with the job), and cutting the clip again replaces them.
    partial = out.with_name(out.stem + ".part.mp4")
    subtitles = out.with_name(re.sub(r"[^\w.-]", "_", out.stem) + ".captions.srt")  # safe in a filter graph
    filters = []
    if vertical:
        # 9:16 at the source's height: a wider picture is cropped to its centre, a narrower one padded.
        width = "trunc(ih*9/32)*2"
        filters.append(f"crop=min(iw\\,{width}):ih,pad={width}:ih:(ow-iw)/2:0")
    if captions:
        _write_clip_srt(captions, start, end, subtitles)
        # Relative name, run with cwd=the clip's folder: no filter-graph escaping of paths.
        filters.append(f"subtitles={subtitles.name}:force_style='FontSize=18,Outline=2'")
    args = [ffmpeg_binary(ffmpeg_path), "-nostdin", "-y", "-v", "error",
            "-ss", f"{start:.3f}", "-i", str(Path(video).resolve()), "-t", f"{end - start:.3f}",
            "-map", "0:v:0?", "-map", "0:a:0?"]
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(partial.resolve())]
    try:
        _run(args, CUT_TIMEOUT, "Cutting the clip", cwd=str(out.parent))
    except MediaError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        subtitles.unlink(missing_ok=True)
    os.replace(partial, out)
    return out
