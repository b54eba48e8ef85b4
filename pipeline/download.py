"""Fetch a video with yt-dlp (or take a local file) into a job folder."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

from . import media
from .errors import DownloadError, MediaError, PipelineError, SourceError
from .options import AnalysisOptions, ProgressCallback, no_progress
from .types import VideoInfo

_HEIGHTS = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080}


def format_selector(resolution: str) -> str:
    """Best video+audio at or under the height, else the best there is."""
    height = _HEIGHTS.get(resolution)
    if height is None:
        return "bv*+ba/b"
    return f"bv*[height<={height}]+ba/b[height<={height}]/bv*+ba/b"


def is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def explain_download_error(message: str) -> str:
    """Turn yt-dlp's multi-part error text into one line a person understands."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", message).replace("ERROR: ", "").strip()
    lowered = text.lower()
    refused = re.search(r"The download was refused: [^;]*; set ALLOW_PRIVATE_URLS=1 to allow such addresses\.", text)
    if refused:  # netguard refused an address yt-dlp was about to connect to
        return refused.group(0)
    rules = [
        ("no space left on device", "The disk is full (no space left on device); free some space and retry."),
        ("not on whitelist", "This video can only be fetched by ffmpeg itself, whose connections cannot be "
                             "checked, so it was refused."),
        ("unsupported url", "No video was found at this address (the site is not supported or the page has no video)."),
        ("http error 404", "The video was not found (HTTP 404)."),
        ("http error 403", "Access to the video was refused (HTTP 403)."),
        ("http error 410", "The video has been removed (HTTP 410)."),
        ("private video", "This video is private."),
        ("video unavailable", "This video is unavailable (removed or blocked)."),
        ("has been removed", "This video has been removed."),
        ("sign in to confirm your age", "This video is age-restricted and needs a signed-in account."),
        ("requested format is not available", "No downloadable format was found for this video."),
        ("no video formats found", "No downloadable format was found for this video."),
        ("connection refused", "The host refused the connection; check the address."),
        ("name or service not known", "The host could not be found; check the address and the network."),
        ("temporary failure in name resolution", "The host could not be found; check the address and the network."),
        ("timed out", "The host did not answer in time."),
        ("network is unreachable", "The network is unreachable."),
    ]
    for needle, explanation in rules:
        if needle in lowered:
            return explanation
    first_line = text.splitlines()[0] if text else "unknown error"
    return f"Download failed: {first_line[:300]}"


class _QuietLogger:
    """Keeps yt-dlp off the terminal; errors surface through the raised exception."""

    def debug(self, msg):
        pass

    def info(self, msg):
        pass

    def warning(self, msg):
        pass

    def error(self, msg):
        pass


def _js_runtimes() -> dict:
    """YouTube needs a JavaScript runtime to solve its challenges; the `deno` package ships one.

    Named by path: the venv's bin folder is not on PATH when the app runs as `.venv/bin/python app.py`.
    """
    try:
        import deno
        return {"deno": {"path": deno.find_deno_bin()}}
    except (ImportError, FileNotFoundError):
        return {"deno": {}}


def _check_before_download(info: dict, options: AnalysisOptions, incomplete) -> None:
    """Refuse a live stream, and a video known to be over the limits, before anything is fetched.

    yt-dlp calls this (as its match_filter) with what it knows: early with the video's details,
    then (not incomplete) with the chosen formats and their sizes.
    """
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
        raise DownloadError("This is a live stream; only recorded videos can be analysed.")
    limit, duration = options.max_duration_seconds, info.get("duration")
    if limit and duration and duration > limit:
        raise DownloadError(f"The video is {int(duration)} s long, over the limit of {limit} s.")
    size = info.get("filesize") or info.get("filesize_approx")
    if not incomplete and options.max_filesize_mb and size and size > options.max_filesize_mb * 1024 * 1024:
        raise DownloadError(f"The video is {size / 1024 / 1024:.0f} MB, over the limit of {options.max_filesize_mb} MB.")


def _download_url(url: str, dest: Path, options: AnalysisOptions, progress: ProgressCallback) -> dict:
    shown = {"file": None, "fraction": 0.0}
    sizes: dict[str, int] = {}  # per file (video and audio may come separately): declared or fetched so far

    def hook(status: dict) -> None:
        if status.get("status") != "downloading":
            return
        done = status.get("downloaded_bytes") or 0
        sizes[status.get("filename")] = max(done, status.get("total_bytes") or 0)
        if options.max_filesize_mb and sum(sizes.values()) > options.max_filesize_mb * 1024 * 1024:
            # A declared size stops it at the first block; an unknown one (HLS, chunked) as it arrives.
            raise DownloadError(f"The video is larger than the limit of {options.max_filesize_mb} MB; "
                                "the download was stopped.")
        total = status.get("total_bytes") or status.get("total_bytes_estimate") or 0
        # HLS/DASH re-estimate the total as fragments arrive, so done/total can step back;
        # the bar only moves forward (per file: video and audio may come one after the other).
        if status.get("filename") != shown["file"]:
            shown.update(file=status.get("filename"), fraction=0.0)
        fraction = min(max(done / total if total else 0.0, shown["fraction"]), 1.0)
        shown["fraction"] = fraction
        speed, eta = status.get("speed"), status.get("eta")
        detail = f"{done / 1e6:.1f} MB"
        if total:
            detail += f" of {total / 1e6:.1f} MB"
        if speed:
            detail += f" at {speed / 1e6:.1f} MB/s"
        if eta is not None:
            detail += f", {int(eta)} s left"
        progress("download", fraction, detail)

    try:
        info = _extract(url, _ydl_options(dest, options, hook))
    except PipelineError:
        # A failed download keeps no half file (a full disk gets its space back). One that is only
        # interrupted (the app killed or stopped) keeps it, and yt-dlp resumes it next time.
        for partial in dest.glob("video.*"):
            if ".part" in partial.name or partial.name.endswith(".ytdl"):
                partial.unlink(missing_ok=True)
        raise
    if info.get("_type") == "playlist":
        raise DownloadError("This address is a playlist; paste the address of a single video.")
    return info


def _ydl_options(dest: Path, options: AnalysisOptions, hook) -> dict:
    """What yt-dlp is told for one download."""
    ydl_options = {
        "format": format_selector(options.resolution),
        # At the same resolution prefer H.264/AAC: every browser plays it and clips cut faster.
        "format_sort": ["res", "vcodec:h264", "acodec:m4a"],
        "outtmpl": {"default": str(dest / "video.%(ext)s")},
        "merge_output_format": "mp4",
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "progress_hooks": [hook],
        "match_filter": lambda info, incomplete: _check_before_download(info, options, incomplete),
        # Every fetch goes through yt-dlp's own (Python) downloaders, whose connections the analysis
        # process checks (netguard); ffmpeg, where yt-dlp would still hand it a URL, may read no network.
        "external_downloader": {"default": "native"},
        "external_downloader_args": {"ffmpeg_i": ["-protocol_whitelist", "file,crypto,data"]},
        "socket_timeout": 20,
        "retries": 2,
        "fragment_retries": 2,
        # A fragment that cannot be fetched (missing, or refused by the address guard) fails the
        # download with its reason, instead of leaving a gap in the video and its transcript.
        "skip_unavailable_fragments": False,
        "cachedir": False,
        "writethumbnail": False,
        "js_runtimes": _js_runtimes(),
    }
    if options.ffmpeg_path:
        ydl_options["ffmpeg_location"] = media.ffmpeg_binary(options.ffmpeg_path)
    return ydl_options


def _extract(url: str, ydl_options: dict) -> dict:
    """yt-dlp's download, its errors turned into ours."""
    import yt_dlp

    try:
        with yt_dlp.YoutubeDL(ydl_options) as ydl:
            return ydl.extract_info(url, download=True)
    except yt_dlp.utils.DownloadError as error:
        raised = (getattr(error, "exc_info", None) or [None, None])[1]
        if isinstance(raised, PipelineError):  # from our hook or check, wrapped by yt-dlp
            raise raised from None
        raise DownloadError(explain_download_error(str(error))) from None
    except yt_dlp.utils.YoutubeDLError as error:
        raise DownloadError(explain_download_error(str(error))) from None


def _find_video(dest: Path) -> Path:
    files = [p for p in dest.glob("video.*") if not p.name.endswith((".part", ".ytdl", ".json"))]
    if not files:
        raise DownloadError("The download finished but no video file was written.")
    return max(files, key=lambda p: p.stat().st_size)


def _in_folder(source: Path, dest: Path) -> bool:
    """Whether a local file lies in the job's own folder: such a file is taken even when local files
    are not (web jobs), as only the app puts one there (an upload)."""
    return source.resolve().is_relative_to(dest.resolve())


def _link_or_copy(source: Path, path: Path) -> None:
    """Put the file at `path` under a temporary name, then rename: a hard link where the file system
    allows (no second copy of a big upload), a copy otherwise."""
    partial = path.with_name(path.name + ".part")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, path)


def download(source: str, dest: str | os.PathLike, options: AnalysisOptions,
             progress: ProgressCallback = no_progress) -> VideoInfo:
    """Put the source video in `dest` and describe it; raise a typed error if it can't be used."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if is_url(source):
        progress("download", 0.0, "starting")
        info = _download_url(source, dest, options, progress)
        path = _find_video(dest)
        title = info.get("title") or path.stem
        meta = dict(uploader=info.get("uploader"), thumbnail=info.get("thumbnail"),
                    webpage_url=info.get("webpage_url") or source)
    elif Path(source).is_file() and (options.allow_local_files or _in_folder(Path(source), dest)):
        path = dest / ("video" + (Path(source).suffix or ".mp4"))
        if Path(source).resolve() != path.resolve():
            _link_or_copy(Path(source), path)
        title = Path(source).stem
        meta = dict(uploader=None, thumbnail=None, webpage_url=None)
    else:
        raise SourceError(f"'{source[:200]}' is neither an http(s) URL nor a readable file.")
    progress("download", 1.0, "done")
    try:
        probed = media.probe(path, options.ffmpeg_path)
        # Some files do not say how long they are (e.g. a stream recorded to Matroska): measure it.
        duration = probed.duration or media.measure_duration(path, options.ffmpeg_path)
        if options.max_duration_seconds and duration > options.max_duration_seconds:
            raise DownloadError(f"The video is {int(duration)} s long, "
                                f"over the limit of {options.max_duration_seconds} s.")
    except (DownloadError, MediaError):
        path.unlink(missing_ok=True)  # an unusable file is not kept around
        raise
    return VideoInfo(source=source, path=str(path), title=title, duration=duration,
                     width=probed.width, height=probed.height, **meta)
