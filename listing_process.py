"""The listing process: lists the videos of a playlist or channel for the web side, one at a time.

Listing fetches pages from an address a person typed, and from wherever those pages lead, so it
runs here, where every connection is checked (netguard), and never in the web process. Started by
the worker (supervised.ChildProcess) at the first listing; a listing that hangs is killed with it.
"""
from __future__ import annotations

import netguard
import supervised


def prepare(policy):
    """netguard.AddressPolicy -> the request handler; yt-dlp is imported now, so a listing starts at once."""
    netguard.install(policy)
    import yt_dlp  # noqa: F401
    return list_videos


def list_videos(request, _send):
    """(url, limit) -> pipeline.playlist.Playlist."""
    from pipeline import playlist
    url, limit = request
    return playlist.list_videos(url, limit)


if __name__ == "__main__":
    supervised.serve(prepare)
