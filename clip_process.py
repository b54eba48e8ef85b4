"""The clip process: the worker's clip thread has each clip cut here, one at a time.

In its own process group (supervised.ChildProcess), so deleting the job or stopping the app kills
a running ffmpeg at once, and it dies with the app even when the app is killed outright.
"""
from __future__ import annotations

import supervised


def prepare(_setup):
    return cut


def cut(request, _send) -> str:
    """(video, start, end, out, captions, vertical, ffmpeg_path) -> the clip's path."""
    from pipeline import media
    video, start, end, out, captions, vertical, ffmpeg_path = request
    return str(media.cut_clip(video, start, end, out, captions=captions, vertical=vertical, ffmpeg_path=ffmpeg_path))


if __name__ == "__main__":
    supervised.serve(prepare)
