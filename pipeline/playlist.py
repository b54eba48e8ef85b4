"""List the videos of a playlist or channel with yt-dlp, without downloading any of them.

yt-dlp's flat extraction reads only the listing pages (a channel's tabs, a feed, a page of videos),
so listing takes a moment, not a download. The caller checks every listed address before it queues it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .download import _QuietLogger, explain_download_error, is_url
from .errors import DownloadError, SourceError


@dataclass
class PlaylistEntry:
    url: str
    title: str | None = None


@dataclass
class Playlist:
    """The first `limit` videos of a playlist; `more` says it has others after them."""
    url: str
    title: str
    entries: list[PlaylistEntry] = field(default_factory=list)
    more: bool = False
    video_count: int | None = None  # how many videos the site says it has, when it says


def _entries(info: dict):
    """The videos of a listing, in order; a channel's tabs (playlists inside it) are walked into."""
    from yt_dlp.utils import unsmuggle_url

    for entry in info.get("entries") or []:
        if not entry:
            continue
        if entry.get("_type") == "playlist":
            yield from _entries(entry)
            continue
        url = next((u for u in (entry.get("url"), entry.get("webpage_url")) if u and is_url(u)), None)
        # A feed's entries may carry yt-dlp's own data after the address (smuggled): not part of it.
        yield PlaylistEntry(unsmuggle_url(url)[0] if url else str(entry.get("url") or entry.get("id")),
                            entry.get("title"))


def list_videos(url: str, limit: int) -> Playlist:
    """The playlist's or channel's first `limit` videos; a typed error if the address is none."""
    import yt_dlp

    options = {
        "extract_flat": "in_playlist",
        "playlistend": limit + 1,  # one more than wanted tells that there are more
        "noplaylist": False,
        "quiet": True,
        "no_warnings": True,
        "logger": _QuietLogger(),
        "socket_timeout": 20,
        "retries": 2,
        "cachedir": False,
    }
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except yt_dlp.utils.YoutubeDLError as error:
        raise DownloadError(f"The playlist could not be listed. {explain_download_error(str(error))}") from None
    if info.get("_type") != "playlist":
        raise SourceError(f"'{url[:100]}' is a single video, not a playlist or channel: add it as a video URL.")
    entries = list({entry.url: entry for entry in _entries(info)}.values())
    title = info.get("title") or url
    if not entries:
        raise SourceError(f"The playlist '{title[:100]}' has no videos.")
    # A channel's count is of its tabs, not of its videos.
    tabs = any(entry and entry.get("_type") == "playlist" for entry in info.get("entries") or [])
    count = None if tabs else info.get("playlist_count")
    return Playlist(url=url, title=title, entries=entries[:limit], more=len(entries) > limit or (count or 0) > limit,
                    video_count=count)
