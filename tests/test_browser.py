"""What a person sees in a real browser: Chromium (Playwright) against `python app.py` under Waitress.

The stories share one server and run in file order, so the expensive analysis happens once:
the two jobs submitted in the first story are reused by the details, clip, transcript, layout
and delete stories. Each later story can also run alone: it then queues what it needs itself.
"""
from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import LiveServer

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PROCESSING_MS = 600_000  # two short videos through whisper on a busy 2-core machine
CLIP_MS = 180_000
UI_MS = 20_000
PHONE = {"width": 390, "height": 844}


# ---- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                                             else shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("browser-app")).start(timeout=120)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def story():
    """What earlier stories leave for later ones (job ids by name)."""
    return {}


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  base_url=server.base_url)
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    yield page
    context.close()  # also closes the page's live event stream


# ---- helpers ------------------------------------------------------------------------------

def api(server, path: str, data=None, method: str | None = None):
    request = urllib.request.Request(server.base_url + path, method=method,
                                     data=None if data is None else json.dumps(data).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def job_total(server) -> int:
    return api(server, "/api/jobs?limit=1")["total"]


def wait_for_job(server, job_id: int, statuses=("Processed", "Error", "Cancelled"), timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api(server, f"/api/jobs/{job_id}")
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} is still {job['status']} after {timeout} s")


def processed_jobs(server, media_server, story) -> dict:
    """The interview and short jobs, Processed: from the first story, or queued now if it did not run."""
    if "interview" not in story:
        jobs = api(server, "/api/jobs", {"urls": [media_server.url("interview.mp4"), media_server.url("short.mp4")]})
        story["interview"], story["short"] = (job["id"] for job in jobs["jobs"])
    for name in ("interview", "short"):
        assert wait_for_job(server, story[name])["status"] == "Processed"
    return story


def row(page, job_id: int):
    return page.locator(f'#jobs-table tr[data-job-id="{job_id}"]')


def watch_text(page, selector: str, name: str) -> None:
    """Record every distinct text the element shows, in order, into window[name]."""
    page.evaluate("""([selector, name]) => {
        const element = document.querySelector(selector);
        window[name] = [element.textContent.trim()];
        new MutationObserver(() => {
            const text = element.textContent.trim();
            if (window[name][window[name].length - 1] !== text) window[name].push(text);
        }).observe(element, {subtree: true, childList: true, characterData: true});
    }""", [selector, name])


def play_clip(page, clip_id: int) -> dict:
    """Play a clip's video muted in the page until it shows frames; its readyState and duration."""
    video = page.locator(f'#clip-list [data-clip-id="{clip_id}"] video')
    expect(video).to_be_visible(timeout=CLIP_MS)
    video.scroll_into_view_if_needed()
    video.evaluate("v => { v.muted = true; return v.play().catch(() => {}); }")
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0.2 && isFinite(v.duration)",
                           arg=video.element_handle(), timeout=60_000)
    return video.evaluate("v => ({readyState: v.readyState, duration: v.duration, error: v.error})")


def contrast(locator) -> float:
    """WCAG contrast ratio of an element's text colour against its own background colour."""
    colours = locator.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")

    def luminance(css: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", css)[:3]]
        r, g, b = ((c / 12.92) if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted(map(luminance, colours), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def main_frame_navigations(page) -> list:
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


# ---- 1. submit two URLs and watch them finish live ----------------------------------------

def test_two_urls_queue_and_finish_live_without_reloading(page, server, media_server, story):
    interview_url, short_url = media_server.url("interview.mp4"), media_server.url("short.mp4")
    before = job_total(server)
    # someone else watches the queue in another window: new rows and counts reach them live
    viewer = page.context.new_page()
    viewer.goto("/")
    expect(viewer.locator("#count-total")).to_have_text(str(before))
    viewer.wait_for_timeout(500)  # its live stream is open
    page.goto("/")
    page.fill("#urls", f"{interview_url}\n{short_url}\n")
    with page.expect_navigation():  # a plain form post, redirected back home
        page.get_by_role("button", name="Add to queue").click()
    assert page.url == server.base_url + "/"
    expect(page.locator("[data-flash]")).to_contain_text("Queued 2 videos")
    assert job_total(server) == before + 2

    jobs = {job["url"]: job["id"] for job in api(server, "/api/jobs")["jobs"]}
    story["interview"], story["short"] = jobs[interview_url], jobs[short_url]
    for name in ("interview", "short"):
        expect(row(page, story[name])).to_be_visible()
        expect(row(viewer, story[name])).to_be_visible()
    expect(viewer.locator("#count-total")).to_have_text(str(before + 2))
    viewer.close()

    # From here on the page must update itself: mark the window, record what each row shows.
    navigations = main_frame_navigations(page)
    page.evaluate("""() => {
        window.__sameDocument = true;
        window.__seen = {};
        const record = () => document.querySelectorAll('#jobs-table tr[data-job-id]').forEach((row) => {
            const seen = window.__seen[row.dataset.jobId] ||= {status: [], step: [], progress: []};
            const add = (list, value) => { if (list[list.length - 1] !== value) list.push(value); };
            add(seen.status, row.querySelector('[data-field="status"]').textContent.trim());
            add(seen.step, row.querySelector('[data-field="step"]').textContent.trim());
            add(seen.progress, row.querySelector('[data-field="progress"] .progress-bar').style.width);
        });
        record();
        new MutationObserver(record).observe(document.getElementById('jobs-table'),
            {subtree: true, childList: true, characterData: true, attributes: true});
    }""")

    for name in ("interview", "short"):
        expect(row(page, story[name]).locator('[data-field="status"]')).to_have_text("Processed", timeout=PROCESSING_MS)
    # the interview row must have moved in front of our eyes too
    expect(row(page, story["interview"]).locator('[data-field="title"]')).not_to_have_text(interview_url)

    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert navigations == []
    seen = page.evaluate("window.__seen")
    for name in ("interview", "short"):
        statuses = seen[str(story[name])]["status"]
        assert len(statuses) > 1 and statuses[-1] == "Processed", statuses
        assert set(statuses) <= {"Queued", "Downloading", "Processing", "Processed"}, statuses
        assert len(seen[str(story[name])]["step"]) > 1, seen[str(story[name])]
        progress = seen[str(story[name])]["progress"]
        assert len(progress) > 1 and progress[-1] == "100%", progress
        bar = row(page, story[name]).locator(".progress-bar")
        expect(bar).to_have_text("100%")
        expect(bar).not_to_have_class(re.compile("progress-bar-animated"))
    # the counters follow along
    expect(page.locator("#count-queued")).to_have_text("0")
    expect(page.locator("#count-active")).to_have_text("0")


# ---- 2. details: player, who-speaks-when, click to seek -----------------------------------

def test_details_show_player_two_speakers_and_clicking_a_segment_seeks(page, server, media_server, story):
    job_id = processed_jobs(server, media_server, story)["interview"]
    job = api(server, f"/api/jobs/{job_id}")
    page.goto("/")
    row(page, job_id).locator('[data-field="title"]').click()
    page.wait_for_url(f"**/jobs/{job_id}")
    expect(page.locator("#job [data-field='status']")).to_have_text("Processed")

    player = page.locator("#player")
    expect(player).to_be_visible()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=60_000)
    assert player.evaluate("v => v.duration") == pytest.approx(job["duration"], abs=0.5)
    assert job["duration"] == pytest.approx(29, abs=2)

    legend = page.locator("#speaker-legend [data-speaker]")
    expect(legend).to_have_count(2)
    lanes = page.eval_on_selector_all("#timeline rect.turn", "rects => rects.map((r) => r.dataset.speaker)")
    assert len(set(lanes)) == 2
    assert set(lanes) == set(legend.evaluate_all("spans => spans.map((s) => s.dataset.speaker)"))
    colours = page.eval_on_selector_all("#timeline rect.turn", "rects => rects.map((r) => r.getAttribute('fill'))")
    assert len(set(colours)) == 2, "each speaker has its own colour"

    segments = page.locator("#segments .segment")
    assert segments.count() >= 2
    starts = [float(s) for s in segments.evaluate_all("links => links.map((a) => a.dataset.start)")]
    index = max(range(len(starts)), key=lambda i: starts[i])  # the latest one: far from where the player is
    assert starts[index] > 3
    segments.nth(index).click()
    page.wait_for_function("start => { const v = document.getElementById('player');"
                           " return !v.seeking && Math.abs(v.currentTime - start) < 1.0; }",
                           arg=starts[index], timeout=30_000)
    assert page.url.endswith(f"/jobs/{job_id}"), "the link was followed instead of seeking"
    expect(segments.nth(index)).to_have_class(re.compile(r"\bactive\b"))
    player.evaluate("v => v.pause()")
    # the highlighted segment stays readable (dark text on its light highlight)
    assert contrast(segments.nth(index)) >= 4.5


# ---- 3. create a clip from a candidate -----------------------------------------------------

def test_create_clip_from_candidate_shows_progress_and_plays(page, server, media_server, story):
    job_id = processed_jobs(server, media_server, story)["interview"]
    candidates = api(server, f"/api/jobs/{job_id}/candidates")["candidates"]
    assert candidates, "the interview yields at least one clip candidate"
    page.goto(f"/jobs/{job_id}")
    form = page.locator("form.candidate").first
    expect(form).to_be_visible()
    candidate = next(c for c in candidates if c["id"] == int(form.get_attribute("data-candidate-id")))
    clips_before = {c["id"] for c in api(server, f"/api/jobs/{job_id}/clips")["clips"]}

    watch_text(page, "form.candidate .clip-state", "__states")
    form.get_by_role("button", name="Create Clip").click()
    expect(form.locator(".clip-state")).to_have_text("Created", timeout=CLIP_MS)
    states = page.evaluate("window.__states")
    assert states[-2:] == ["Creating…", "Created"], states
    expect(form.get_by_role("button", name="Create Clip")).to_be_enabled()

    clips = [c for c in api(server, f"/api/jobs/{job_id}/clips")["clips"] if c["id"] not in clips_before]
    assert len(clips) == 1 and clips[0]["candidate_id"] == candidate["id"] and clips[0]["status"] == "Created"
    story["candidate_clip"] = clips[0]["id"]
    card = page.locator(f'#clip-list [data-clip-id="{clips[0]["id"]}"]')
    expect(card).to_contain_text(f"Clip {clips[0]['id']}")
    expect(card).to_contain_text("Created")
    expect(page.locator("#no-clips")).to_have_count(0)
    played = play_clip(page, clips[0]["id"])
    assert played["error"] is None and played["readyState"] >= 2
    assert played["duration"] == pytest.approx(candidate["end"] - candidate["start"], abs=0.2)
    expect(card.get_by_role("link", name="Download MP4")).to_be_visible()

    # after a reload the server renders the same clip, playable too
    page.reload()
    played = play_clip(page, clips[0]["id"])
    assert played["duration"] == pytest.approx(candidate["end"] - candidate["start"], abs=0.2)


# ---- 4. a custom range with captions; SRT and VTT downloads ---------------------------------

def test_custom_range_with_captions_and_transcript_downloads(page, server, media_server, story, tmp_path):
    job_id = processed_jobs(server, media_server, story)["interview"]
    page.goto(f"/jobs/{job_id}")
    custom = page.locator("#custom-clip")
    custom.get_by_label("Start (s)").fill("2")
    custom.get_by_label("End (s)").fill("8")
    custom.get_by_label("Captions").check()
    watch_text(page, "#custom-clip .clip-state", "__states")
    custom.get_by_role("button", name="Create Clip").click()
    expect(custom.locator(".clip-state")).to_have_text("Created", timeout=CLIP_MS)
    assert page.evaluate("window.__states")[-2:] == ["Creating…", "Created"]

    clip = max(api(server, f"/api/jobs/{job_id}/clips")["clips"], key=lambda c: c["id"])
    assert (clip["start"], clip["end"], clip["captions"], clip["candidate_id"]) == (2.0, 8.0, True, None)
    card = page.locator(f'#clip-list [data-clip-id="{clip["id"]}"]')
    expect(card).to_contain_text("2.0–8.0 s · captions")
    assert play_clip(page, clip["id"])["duration"] == pytest.approx(6.0, abs=0.2)

    speakers = page.locator("#speaker-legend [data-speaker]").evaluate_all("s => s.map((e) => e.dataset.speaker)")
    assert len(speakers) == 2
    page.get_by_role("tab", name="Transcript").click()
    expect(page.locator("#tab-transcript")).to_be_visible()
    expect(page.locator("#transcript")).to_contain_text(f"{speakers[0]}:")

    import srt
    import webvtt

    with page.expect_download() as info:
        page.get_by_role("link", name="Download SRT").click()
    assert info.value.suggested_filename == f"job-{job_id}-transcript.srt"
    subtitles = list(srt.parse(Path(info.value.path()).read_text(encoding="utf-8")))
    assert subtitles
    labels = set()
    for subtitle in subtitles:
        match = re.match(r"\[(.+?)\] \S", subtitle.content)
        assert match, subtitle.content
        labels.add(match.group(1))
        assert subtitle.end > subtitle.start
    assert labels == set(speakers)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download VTT").click()
    assert info.value.suggested_filename == f"job-{job_id}-transcript.vtt"
    vtt_path = tmp_path / "transcript.vtt"
    info.value.save_as(vtt_path)
    assert vtt_path.read_text(encoding="utf-8").startswith("WEBVTT")
    captions = webvtt.read(str(vtt_path)).captions
    assert len(captions) == len(subtitles)
    voices = {re.match(r"<v ([^>]+)>", caption.raw_text).group(1) for caption in captions}
    assert voices == set(speakers)


# ---- 5. a URL that is not found: Error, error log, Retry ------------------------------------

def test_missing_video_fails_readably_is_logged_and_can_be_retried(page, server, media_server, story):
    url = media_server.url("missing.mp4")
    page.goto("/")
    page.fill("#urls", url)
    page.get_by_role("button", name="Add to queue").click()
    expect(page.locator("[data-flash]")).to_contain_text("Queued 1 video")
    job_id = next(job["id"] for job in api(server, "/api/jobs")["jobs"] if job["url"] == url)
    story["missing"] = job_id

    status = row(page, job_id).locator('[data-field="status"]')
    expect(status).to_have_text("Error", timeout=PROCESSING_MS)  # live, no reload
    message = row(page, job_id).locator('[data-field="error"]')
    expect(message).to_contain_text(re.compile("not found", re.I))
    text = message.inner_text()
    assert len(text) < 300 and "Traceback" not in text and "ERROR:" not in text, text
    expect(row(page, job_id).locator(".progress-bar")).to_have_class(re.compile("bg-danger"))
    first = api(server, f"/api/jobs/{job_id}")

    page.get_by_role("link", name=re.compile("Error log")).click()
    page.wait_for_url("**/errors")
    entry = page.locator(f'#error-list [data-job-id="{job_id}"]')
    expect(entry).to_be_visible()
    expect(entry.locator(".error-message")).to_contain_text(re.compile("not found", re.I))
    expect(entry).to_contain_text(url)
    expect(page.locator("#nav-error-count")).to_have_text("1")

    time.sleep(1.1)  # so the retried failure gets a later timestamp
    entry.get_by_role("button", name="Retry").click()
    page.wait_for_url("**/errors")
    expect(page.locator("[data-flash]")).to_contain_text(f"Job {job_id} is queued again.")
    again = wait_for_job(server, job_id, timeout=120)
    assert again["status"] == "Error" and again["finished_at"] > first["finished_at"]
    page.reload()
    expect(page.locator(f'#error-list [data-job-id="{job_id}"] .error-message')).to_contain_text(
        re.compile("not found", re.I))

    # the details page says the same, with Retry on offer
    page.goto(f"/jobs/{job_id}")
    expect(page.locator("#job-error")).to_contain_text(re.compile("not found", re.I))
    expect(page.get_by_role("button", name="Retry")).to_be_visible()


# ---- 8. a phone-sized screen (runs before the deletions so there is something to show) -------

def test_pages_fit_a_390px_wide_screen(browser, server, media_server, story):
    job_id = processed_jobs(server, media_server, story)["interview"]
    context = browser.new_context(viewport=PHONE, base_url=server.base_url, is_mobile=True, has_touch=True)
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    try:
        def fits(what: str):
            page.wait_for_load_state("load")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, f"{what} scrolls sideways: {width}px"

        def inside(locator):
            expect(locator).to_be_visible()
            locator.scroll_into_view_if_needed()
            box = locator.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, box

        page.goto("/")
        fits("home")
        inside(page.get_by_role("button", name="Add to queue"))
        inside(page.locator("#urls"))
        inside(page.get_by_role("button", name="Delete selected"))
        inside(row(page, job_id).locator('[data-field="status"]'))

        page.goto(f"/jobs/{job_id}")
        fits("details")
        inside(page.locator("#player"))
        inside(page.locator("#timeline"))
        inside(page.locator("form.candidate").first.get_by_role("button", name="Create Clip"))
        inside(page.locator("#custom-clip").get_by_role("button", name="Create Clip"))
        page.get_by_role("tab", name="Transcript").click()
        inside(page.get_by_role("link", name="Download VTT"))
        fits("details, transcript tab")

        page.goto("/errors")
        fits("error log")
        if "missing" in story:
            inside(page.locator(f'#error-list [data-job-id="{story["missing"]}"]').get_by_role("button", name="Retry"))
    finally:
        context.close()


# ---- 6. select two jobs and delete them ----------------------------------------------------

def test_delete_two_selected_jobs_after_confirming(page, server, media_server, story):
    processed_jobs(server, media_server, story)
    if "missing" not in story:
        story["missing"] = api(server, "/api/jobs", {"url": media_server.url("missing.mp4")})["jobs"][0]["id"]
    victims = [story["short"], story["missing"]]
    wait_for_job(server, story["missing"])
    downloads = server.root / "downloads"
    assert (downloads / str(story["short"])).is_dir()

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.goto("/")
    for job_id in victims:
        row(page, job_id).get_by_role("checkbox").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator("[data-flash]")).to_contain_text("Deleted 2 jobs.")
    assert dialogs == ["Delete the selected jobs with their videos and clips?"]
    for job_id in victims:
        expect(row(page, job_id)).to_have_count(0)
        assert not (downloads / str(job_id)).exists()
        assert not (server.root / "clips" / str(job_id)).exists()
        with pytest.raises(urllib.error.HTTPError) as gone:
            api(server, f"/api/jobs/{job_id}")
        assert gone.value.code == 404
    expect(row(page, story["interview"])).to_be_visible()  # the unselected job stays
    assert (downloads / str(story["interview"])).is_dir()


def test_delete_without_selection_or_when_dismissed_deletes_nothing(page, server, story):
    page.goto("/")
    total = job_total(server)
    assert total >= 1
    messages = []
    page.on("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator("#jobs-table tr[data-job-id]")).to_have_count(total)
    assert messages == ["Select at least one job to delete."]
    page.locator("#jobs-table tr[data-job-id]").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Delete selected").click()
    assert messages[-1] == "Delete the selected jobs with their videos and clips?"
    page.wait_for_timeout(500)
    assert job_total(server) == total and page.locator("[data-flash]").count() == 0


# ---- 7. bad input is refused with a clear message --------------------------------------------

def _submit_and_expect_refusal(page, server, text: str, message) -> None:
    before = job_total(server)
    page.goto("/")
    page.fill("#urls", text)
    page.get_by_role("button", name="Add to queue").click()
    alert = page.locator(".alert-danger[data-flash]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(message)
    expect(page.locator("#urls")).to_have_value(text)  # what was typed is kept
    expect(page.locator(".alert-success")).to_have_count(0)
    assert job_total(server) == before, "nothing may be queued"


@pytest.mark.parametrize("text, message", [
    ("", "Paste at least one video URL."),
    ("   \n  ", "Paste at least one video URL."),
    ("not a url", "'not a url' is not a web address"),
    ("file:///etc/passwd", "only http:// and https:// URLs are accepted"),
    ("http://", "is not a valid URL"),
])
def test_bad_input_is_refused_with_a_clear_message(page, server, text, message):
    _submit_and_expect_refusal(page, server, text, message)


def test_a_bad_line_among_good_ones_queues_nothing(page, server, media_server):
    _submit_and_expect_refusal(page, server, f"{media_server.url('short.mp4')}\nnot a url",
                               "'not a url' is not a web address")


def test_private_addresses_are_refused_by_default(browser, tmp_path_factory):
    strict = LiveServer(tmp_path_factory.mktemp("strict-app"), ALLOW_PRIVATE_URLS="0").start(timeout=120)
    context = browser.new_context(base_url=strict.base_url)
    context.set_default_timeout(UI_MS)
    try:
        page = context.new_page()
        for url in ("http://10.0.0.1/x.mp4", "http://127.0.0.1:8000/video.mp4", "http://localhost/video.mp4"):
            _submit_and_expect_refusal(page, strict, url, "points to a private or local address")
        assert job_total(strict) == 0
    finally:
        context.close()
        strict.stop()
