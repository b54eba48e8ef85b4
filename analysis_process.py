"""The analysis process: the worker's job thread runs each job's analysis here, one at a time.

Started by the job thread (supervised.ChildProcess) in its own process group, so torch and the
models never load in the web process and a cancel kills the analysis with every ffmpeg it started.
It lowers its CPU priority (pages stay quick), checks every address it connects to (netguard), and
loads the models at once, so a job arriving after the warm-up pays no loading time.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

import netguard
import supervised

log = logging.getLogger("analysis")

NICENESS = 10
# Tests only: while a file named after a stage exists in this folder, the analysis waits at its first
# progress report of that stage (and creates "<stage>.reached"), so a test can act in a given stage.
HOLD_DIR = os.environ.get("CLIPPER_TEST_HOLD_DIR")


def prepare(setup):
    """(AnalysisOptions for the warm-up, netguard.AddressPolicy) -> the request handler."""
    options, policy = setup
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), NICENESS))
    except OSError as error:
        log.info("could not lower the analysis process's priority: %s", error)
    netguard.install(policy)
    _warm_up(options)
    return analyze


def _warm_up(options) -> None:
    """Load the models before the first job so it pays no start-up cost."""
    from pipeline import run
    started = time.monotonic()
    try:
        run.warm_up(options)
    except Exception as error:  # a job will report the same problem readably
        log.warning("warm-up failed: %s", error)
        return
    log.info("analysis process ready: models loaded in %.1f s", time.monotonic() - started)


def analyze(request, send):
    """(source, job folder, AnalysisOptions) -> AnalysisResult; progress goes to the job thread."""
    from pipeline import run
    source, out_dir, options = request
    reported = set()

    def progress(stage: str, fraction: float, detail: str = "") -> None:
        if stage == "audio" and fraction == 0.0:  # the download is saved: show the real title now
            video = run.saved_video(out_dir)
            if video:
                send("video", asdict(video))
        send("progress", stage, fraction, detail)
        if HOLD_DIR and stage not in reported:
            _hold(Path(HOLD_DIR), stage)
        reported.add(stage)

    return run.analyze(source, out_dir, options, progress)


def _hold(folder: Path, stage: str) -> None:
    if (folder / stage).exists():
        (folder / f"{stage}.reached").touch()
        while (folder / stage).exists():
            time.sleep(0.05)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    supervised.serve(prepare)
