"""Take the README screenshots: `python -m tests.screenshots` (or `make screenshots`).

Generates the test media, serves it over loopback, runs the real app in a temporary folder,
brings jobs into several states (Processed with a clip, Error, Processing, Queued) and writes
docs/screenshot-{home,details,errors,people,search,clips}.png with Chromium.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests import media
from tests.conftest import LiveServer, MediaServer

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
VIEWPORT = {"width": 1280, "height": 900}


def make_media(root: Path) -> None:
    interview = media.dialogue(media.INTERVIEW, root / "interview.wav")
    media.mux_video(interview.wav, root / "interview.mp4", interview.duration)
    short = media.dialogue(media.INTERVIEW[2:4], root / "short.wav")
    media.mux_video(short.wav, root / "short.mp4", short.duration)
    media.mux_video(interview.wav, root / "second-interview.mp4", interview.duration)


def api(server: LiveServer, path: str, data=None):
    request = urllib.request.Request(server.base_url + path, data=None if data is None else json.dumps(data).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def wait_until(condition, what: str, timeout: float = 600, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def finished(server: LiveServer, job_id: int) -> dict | None:
    job = api(server, f"/api/jobs/{job_id}")
    return job if job["status"] in ("Processed", "Error", "Cancelled") else None


def main() -> int:
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        print("Chromium is needed: apt-get install chromium", file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="clipper-screens-") as temp:
        root = Path(temp)
        (root / "media").mkdir()
        print("making test media…", flush=True)
        make_media(root / "media")
        media_server = MediaServer(root / "media")
        media_server.httpd.handle_error = lambda *_: None  # a player closing a connection early is normal
        server = LiveServer(root / "app").start(timeout=120)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    shoot(browser, server, media_server)
                finally:
                    browser.close()
        finally:
            server.stop()
            media_server.close()
    for name in ("home", "details", "errors", "people", "search", "clips"):
        print(DOCS / f"screenshot-{name}.png")
    return 0


def shoot(browser, server: LiveServer, media_server: MediaServer) -> None:
    context = browser.new_context(viewport=VIEWPORT, base_url=server.base_url, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()

    # A Processed job with a clip cut from its best candidate, through the page as a person would.
    print("analysing the interview…", flush=True)
    interview = api(server, "/api/jobs", {"url": media_server.url("interview.mp4")})["jobs"][0]["id"]
    assert wait_until(lambda: finished(server, interview), "the interview")["status"] == "Processed"
    speakers = api(server, f"/api/jobs/{interview}/speakers")["speakers"]
    for speaker, name in zip(speakers, ("Diane", "Marcus")):  # named as a person would, on the page's legend
        page.goto(f"/jobs/{interview}")
        page.locator(f'.speaker-name[data-speaker="{speaker["label"]}"] summary').click()
        page.get_by_label(f"Name of {speaker['label']}").fill(name)
        page.locator(f'.speaker-name[data-speaker="{speaker["label"]}"]').get_by_role("button", name="Save").click()
        page.wait_for_load_state()
    page.goto(f"/jobs/{interview}")
    form = page.locator("form.candidate").first
    if form.count():
        form.get_by_label("Captions").check()
        form.get_by_role("button", name="Create Clip").click()
        form.locator(".clip-state").filter(has_text="Created").wait_for(timeout=180_000)

    # An Error: the address answers 404.
    missing = api(server, "/api/jobs", {"url": media_server.url("missing.mp4")})["jobs"][0]["id"]
    assert wait_until(lambda: finished(server, missing), "the 404")["status"] == "Error"

    # One job running and one waiting behind it, watched live on the home page; the table is
    # frozen (swapped for a copy the page script does not update) the moment a bar is part-way.
    print("queueing two more…", flush=True)
    page.goto("/")
    page.wait_for_timeout(500)  # the live stream is open
    api(server, "/api/jobs", {"urls": [media_server.url("second-interview.mp4"), media_server.url("short.mp4")]})
    frozen = page.evaluate("""() => new Promise((done) => {
        const table = document.getElementById('jobs-table');
        const check = () => {
            let unfinished = false;
            for (const row of table.querySelectorAll('tr[data-job-id]')) {
                const status = row.querySelector('[data-field="status"]').textContent.trim();
                const width = parseFloat(row.querySelector('.progress-bar').style.width);
                if (['Queued', 'Downloading', 'Processing'].includes(status)) unfinished = true;
                if (status === 'Processing' && width >= 5 && width < 100) {
                    observer.disconnect();
                    table.replaceWith(table.cloneNode(true));
                    return done(row.dataset.jobId);
                }
            }
            if (!unfinished && table.querySelectorAll('tr[data-job-id]').length >= 4) {
                observer.disconnect();
                done(null);
            }
        };
        const observer = new MutationObserver(check);
        observer.observe(table, {subtree: true, childList: true, characterData: true, attributes: true});
    })""")
    if frozen is None:
        print("warning: no job was caught part-way; the home screenshot shows them finished", file=sys.stderr)
    page.wait_for_timeout(800)  # the bars' width transition
    page.screenshot(path=str(DOCS / "screenshot-home.png"), full_page=True)

    page.goto("/errors")
    page.screenshot(path=str(DOCS / "screenshot-errors.png"), full_page=True)

    page.goto("/people/")
    page.screenshot(path=str(DOCS / "screenshot-people.png"), full_page=True)

    page.goto("/search?q=balcony")
    page.screenshot(path=str(DOCS / "screenshot-search.png"), full_page=True)

    page.goto("/clips")
    page.screenshot(path=str(DOCS / "screenshot-clips.png"), full_page=True)

    page.goto(f"/jobs/{interview}")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.evaluate("""() => new Promise((done) => {
        const player = document.getElementById('player');
        player.addEventListener('seeked', done, {once: true});
        player.currentTime = 11.5;
    })""")
    clip_video = page.locator("#clip-list video").first
    if clip_video.count():
        clip_video.evaluate("""(v) => new Promise((done) => {
            if (v.readyState >= 1) { v.currentTime = 1; v.addEventListener('seeked', done, {once: true}); }
            else v.addEventListener('loadedmetadata', () => {
                v.currentTime = 1; v.addEventListener('seeked', done, {once: true}); }, {once: true});
        })""")
    page.wait_for_timeout(300)
    page.screenshot(path=str(DOCS / "screenshot-details.png"), full_page=True)
    context.close()


if __name__ == "__main__":
    sys.exit(main())
