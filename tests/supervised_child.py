"""A child program for test_supervised.py: what it does is named by each request."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.errors import MediaError  # noqa: E402
from supervised import serve  # noqa: E402


def prepare(setup):
    def handle(request, send):
        action, *args = request
        if action == "echo":
            send("progress", "echo", 0.5, "halfway")
            return (setup, *args)
        if action == "fail":
            raise MediaError(args[0])
        if action == "crash":
            os._exit(3)
        if action == "sleep":  # in a grandchild, as an analysis waits on ffmpeg
            subprocess.run(["sleep", "300"], check=False)
        if action == "disk-full":
            raise OSError(28, "No space left on device")
        raise ValueError(action)

    return handle


if __name__ == "__main__":
    serve(prepare)
