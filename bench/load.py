"""Load benchmark: do the queue page and the job list stay fast with a big history and a job running?

    python -m bench.load [--jobs 10000] [--clients 20] [--requests 1000] [--seconds 180] [--keep]

1. fills a fresh database with --jobs finished jobs (one bulk insert; 5 % failed, 5 % cancelled);
2. starts the real app (`python app.py` under Waitress, with its worker) on that database;
3. keeps one analysis running: the generated interview.mp4 (tests.media) served over loopback,
   submitted again whenever the previous one ends;
4. --clients threads send --requests requests in all (bounded by --seconds), alternating
   GET / and GET /api/jobs, each timed from send to last byte (urllib, a new connection each),
   after --warm-up requests that are not counted (first renders, thread and connection start-up).

Prints p50/p95/max per endpoint and PASS/MISS against p95 <= 100 ms; exits 1 on a MISS.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import db
from tests import media
from tests.conftest import LiveServer, MediaServer

TARGET_P95_MS = 100.0
ENDPOINTS = ("/", "/api/jobs")


def fill(database: Path, count: int) -> None:
    """`count` finished jobs in one transaction, spread over the last year."""
    connection = db.connect(database)
    db.migrate(connection)
    rng = random.Random(7)
    now = time.time()
    rows = []
    for i in range(count):
        created = now - 365 * 86400 + i * (365 * 86400 / count)
        roll = rng.random()
        status, error = ("Error", "Download failed: HTTP Error 404: Not Found") if roll < 0.05 else (
            ("Cancelled", None) if roll < 0.10 else ("Processed", None))
        rows.append((f"https://www.example.com/watch?v={i:08d}", f"Recorded talk number {i}", status,
                     "done" if status == "Processed" else status.lower(), 1.0 if status == "Processed" else 0.3,
                     error, "720p", round(rng.uniform(60, 3600), 1), "Some Channel",
                     json.dumps({"download": 3.1, "audio": 0.4, "transcribe": 41.0, "diarize": 1.2,
                                 "segments": 0.1}) if status == "Processed" else None,
                     created, created + 90, created + 90))
    with db.transaction(connection):
        connection.executemany(
            "INSERT INTO jobs (url, title, status, step, progress, error, resolution, duration, uploader, timings,"
            " created_at, updated_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    connection.execute("PRAGMA optimize")
    connection.close()


def get_json(url: str, data: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                     headers={"Content-Type": "application/json"} if data is not None else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class JobKeeper(threading.Thread):
    """Keeps one analysis running on the server; counts the samples that found one running."""

    def __init__(self, server: LiveServer, video_url: str):
        super().__init__(daemon=True, name="job-keeper")
        self.server, self.video_url = server, video_url
        self.stop = threading.Event()
        self.submitted = 0
        self.samples = {"running": 0, "other": 0}
        self.job_id = None

    def status(self) -> str | None:
        if self.job_id is None:
            return None
        return get_json(f"{self.server.base_url}/api/jobs/{self.job_id}")["status"]

    def run(self):
        while not self.stop.is_set():
            try:
                status = self.status()
                if status in (None, "Processed", "Error", "Cancelled"):
                    url = f"{self.video_url}?run={self.submitted}"  # a new URL: never a duplicate
                    self.job_id = get_json(f"{self.server.base_url}/api/jobs", {"url": url})["jobs"][0]["id"]
                    self.submitted += 1
            except OSError as error:  # a slow answer under load: try again
                print(f"job keeper: {error}", file=sys.stderr)
                status = None
            self.samples["running" if status in ("Downloading", "Processing") else "other"] += 1
            self.stop.wait(0.5)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def hammer(base_url: str, clients: int, total: int, seconds: float) -> tuple[dict, list[str], float]:
    """`clients` threads share `total` requests; returns latencies (s) per endpoint, errors, wall time."""
    counter = itertools.count()
    latencies = {path: [] for path in ENDPOINTS}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        while time.monotonic() < deadline:
            number = next(counter)
            if number >= total:
                return
            path = ENDPOINTS[number % len(ENDPOINTS)]
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(base_url + path, timeout=30) as response:
                    response.read()
                    ok, reason = response.status == 200, f"{path}: HTTP {response.status}"
            except OSError as error:
                ok, reason = False, f"{path}: {error}"
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    latencies[path].append(elapsed)
                else:
                    errors.append(reason)

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="finished jobs in the database")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=1000, help="requests in all")
    parser.add_argument("--warm-up", type=int, default=200, help="requests sent first and not counted")
    parser.add_argument("--seconds", type=float, default=180, help="stop sending after this long")
    parser.add_argument("--no-job", action="store_true", help="measure without a job running (for comparison)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="clipper-load-"))
    server = media_server = keeper = None
    try:
        started = time.perf_counter()
        fill(work / "app" / "instance" / "videos.db", args.jobs)
        print(f"database: {args.jobs} finished jobs inserted in {time.perf_counter() - started:.1f} s", flush=True)

        recording = media.dialogue(media.INTERVIEW, work / "media" / "interview.wav")
        media.mux_video(recording.wav, work / "media" / "interview.mp4", recording.duration)
        media_server = MediaServer(work / "media")
        media_server.httpd.handle_error = lambda *_: None  # yt-dlp closing a probe early is not news

        server = LiveServer(work / "app").start(timeout=120)
        keeper = JobKeeper(server, media_server.url("interview.mp4"))
        if not args.no_job:
            keeper.start()
        deadline = time.monotonic() + 300
        while not args.no_job and keeper.status() not in ("Downloading", "Processing"):
            if time.monotonic() > deadline:
                print("MISS: the background job never started", file=sys.stderr)
                return 1
            time.sleep(0.1)
        running = "no job running" if args.no_job else f"job {keeper.job_id} is {keeper.status()}"
        print(f"server: {server.base_url}, {running}; {args.clients} clients, {args.requests} requests "
              f"after {args.warm_up} not counted", flush=True)

        hammer(server.base_url, args.clients, args.warm_up, args.seconds)  # first requests: not counted
        keeper.samples = {"running": 0, "other": 0}  # count only while measuring
        latencies, errors, wall = hammer(server.base_url, args.clients, args.requests, args.seconds)
        keeper.stop.set()
        if keeper.is_alive():
            keeper.join(timeout=10)
        done = sum(len(v) for v in latencies.values())
        running_share = keeper.samples["running"] / max(sum(keeper.samples.values()), 1)
        print(f"\n{done} requests in {wall:.1f} s ({done / wall:.0f}/s), {len(errors)} errors; "
              f"a job was running in {running_share:.0%} of samples ({keeper.submitted} submitted)")
        passed = not errors and done > 0
        print(f"{'endpoint':<12}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}  target p95 <= {TARGET_P95_MS:.0f} ms")
        for path, values in latencies.items():
            if not values:
                print(f"{path:<12}{0:>6}  no successful requests  MISS")
                passed = False
                continue
            p50, p95 = percentile(values, 0.50) * 1000, percentile(values, 0.95) * 1000
            ok = p95 <= TARGET_P95_MS
            passed &= ok
            print(f"{path:<12}{len(values):>6}{p50:>10.1f}{p95:>10.1f}{max(values) * 1000:>10.1f}  "
                  f"{'PASS' if ok else 'MISS'}")
        for error in errors[:5]:
            print(f"error: {error}")
        print(f"\nload: {'PASS' if passed else 'MISS'}")
        return 0 if passed else 1
    finally:
        if keeper:
            keeper.stop.set()
        if server:
            server.stop()
        if media_server:
            media_server.close()
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
