"""Finding the processes an app started: each inherits CLIPPER_TEST_MARK from the app's environment."""
from __future__ import annotations

from pathlib import Path


def app_processes(mark: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process that inherited this mark."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"CLIPPER_TEST_MARK={mark}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except OSError:
            continue  # gone, or a zombie
    return found
