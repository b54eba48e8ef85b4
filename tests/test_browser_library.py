"""The video library in a real browser: Chromium (Playwright) against `python app.py` under Waitress.

The server's database holds one processed job, the generated interview (two speakers, a question
and its answer), stored by db.save_result with its real video and its exact transcript: search
needs an analysis, not the time it takes, so none runs here. Clips are cut for real.
"""
from __future__ import annotations

import io
import json
import re
import shutil
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

import db
from pipeline.types import AnalysisResult, Candidate, Segment, SpeakerTurn, VideoInfo
from tests.conftest import LiveServer
from tests.test_browser import CLIP_MS, PHONE, UI_MS, browser, page  # noqa: F401

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture(scope="module")
def library(tmp_path_factory, media_dir, interview):
    """A data folder with the interview processed, as the worker would have left it: {"root", "job"}."""
    root = tmp_path_factory.mktemp("library-app")
    connection = db.connect(root / "instance" / "videos.db")
    db.migrate(connection)
    job_id = db.create_job(connection, "http://example.com/interview", "720p")
    folder = root / "downloads" / str(job_id)
    folder.mkdir(parents=True)
    shutil.copy(media_dir / "interview.mp4", folder / "video.mp4")
    names = {"A": "SPEAKER_00", "B": "SPEAKER_01"}
    segments = [Segment(round(u.start, 2), round(u.end, 2), names[u.speaker], u.text,
                        "question" if u.text.endswith("?") else "statement", 0.0, len(u.text.split()))
                for u in interview.utterances]
    db.save_result(connection, job_id, AnalysisResult(
        video=VideoInfo(source="http://example.com/interview", path=str(folder / "video.mp4"), title="Garden show",
                        duration=interview.duration),
        language="en", words=[], segments=segments, turns=[SpeakerTurn(s.start, s.end, s.speaker) for s in segments],
        candidates=[Candidate(segments[2].start, segments[3].end, 70.0, ["a question answered"], 2, 3,
                              f"{segments[2].text} {segments[3].text}")],
        diarization_backend="embedded", diarization_reason="test", timings={}))
    connection.close()
    return {"root": root, "job": job_id}


@pytest.fixture(scope="module")
def server(library):
    live = LiveServer(library["root"]).start(timeout=120)
    yield live
    live.stop()



def api(server, path: str, data=None, method: str | None = None):
    request = urllib.request.Request(server.base_url + path, data=None if data is None else json.dumps(data).encode(),
                                     headers={"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for_clip(server, clip_id: int, timeout: float = CLIP_MS / 1000) -> dict:
    deadline = time.monotonic() + timeout
    while (clip := api(server, f"/api/clips/{clip_id}"))["status"] == "Creating" and time.monotonic() < deadline:
        time.sleep(0.5)
    return clip


def search_from_navbar(page, text: str) -> None:
    box = page.get_by_label("Search transcripts")
    box.fill(text)
    with page.expect_navigation():
        box.press("Enter")


# ---- 1. search, open a hit, clip it ---------------------------------------------------------------

def test_a_hit_plays_from_its_second_and_clip_this_cuts_it(page, server, library):
    job_id = library["job"]
    page.goto(f"/jobs/{job_id}")
    search_from_navbar(page, "tomatoes")
    assert page.url.endswith("/search?q=tomatoes")
    hit = page.locator("#hits .hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text("Tomatoes")
    expect(hit.locator(".hit-snippet")).to_contain_text("are the best choice, because they grow quickly")
    expect(hit.locator(".hit-speaker")).to_have_text("SPEAKER_01")
    expect(hit.locator(".hit-title")).to_have_text("Garden show")
    found = api(server, "/api/search?q=tomatoes")["hits"][0]
    start = found["start"]
    assert start > 3, "far enough into the video that seeking shows"
    expect(hit.locator(".hit-time")).to_have_text(f"0:{int(start):02d}")

    hit.get_by_role("link", name=f"Play from 0:{int(start):02d}").click()
    page.wait_for_url(f"**/jobs/{job_id}?t={start}")
    page.wait_for_function("t => { const v = document.getElementById('player');"
                           " return v.readyState >= 1 && !v.seeking && v.currentTime >= t - 0.05"
                           " && v.currentTime < t + 2; }", arg=start, timeout=30_000)
    # Headless Chromium lets a page start playing by itself: the player runs on from the hit.
    page.wait_for_function("t => document.getElementById('player').currentTime > t + 0.3", arg=start, timeout=30_000)
    assert page.evaluate("document.getElementById('player').paused") is False
    expect(page.locator(f'#segments .segment[data-start="{start}"]')).to_have_class(re.compile(r"\bactive\b"))
    page.evaluate("document.getElementById('player').pause()")

    page.go_back()
    page.locator("#hits .hit").get_by_role("link", name="Clip this").click()
    page.wait_for_url(f"**/jobs/{job_id}?t={start}&start={found['clip_start']}&end={found['clip_end']}#custom-clip")
    custom = page.locator("#custom-clip")
    expect(custom.get_by_label("Start (s)")).to_have_value(str(found["clip_start"]))
    expect(custom.get_by_label("End (s)")).to_have_value(str(found["clip_end"]))
    expect(custom).to_be_in_viewport()
    before = {clip["id"] for clip in api(server, f"/api/jobs/{job_id}/clips")["clips"]}
    custom.get_by_role("button", name="Create Clip").click()
    expect(custom.locator(".clip-state")).to_have_text("Created", timeout=CLIP_MS)
    [clip] = [c for c in api(server, f"/api/jobs/{job_id}/clips")["clips"] if c["id"] not in before]
    assert (clip["start"], clip["end"], clip["status"]) == (found["clip_start"], found["clip_end"], "Created")
    video = page.locator(f'#clip-list [data-clip-id="{clip["id"]}"] video')
    expect(video).to_be_visible()
    video.evaluate("v => { v.muted = true; return v.play().catch(() => {}); }")
    page.wait_for_function("v => v.readyState >= 2 && isFinite(v.duration)", arg=video.element_handle(), timeout=60_000)
    assert video.evaluate("v => v.duration") == pytest.approx(found["clip_end"] - found["clip_start"], abs=0.2)


# ---- 2. filters and bad input -------------------------------------------------------------------

def test_filters_narrow_the_hits_and_bad_input_is_answered_in_words(page, server, library):
    page.goto("/search?q=sun*")
    hits = page.locator("#hits .hit")
    expect(hits).to_have_count(2)  # "How much sun ...?" and "... direct sunlight ..."
    expect(hits.locator("mark")).to_have_text(["sun", "sunlight"], ignore_case=True)
    hits.filter(has_text="sunlight").get_by_role("link", name="only SPEAKER_01").click()
    expect(hits).to_have_count(1)
    expect(page.locator("#search-speaker")).to_have_value("SPEAKER_01")
    hits.get_by_role("link", name="only this video").click()
    expect(page.locator("#job-filter")).to_contain_text("Only in Garden show")
    expect(hits).to_have_count(1)
    page.get_by_label("Words").fill('"six hours')  # the closing quote forgotten
    page.get_by_role("button", name="Search").click()
    expect(hits).to_have_count(1)
    expect(hits.locator("mark")).to_have_text("six hours")
    page.get_by_label("Speaker").fill("SPEAKER_00")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#no-hits")).to_be_visible()  # she never said it

    for typed, message in (("", "Type a word to search for (letters or digits)."),
                           ("*", "Type a word to search for (letters or digits)."),
                           ("t*", "Put at least 2 letters before * ('t*' would match too much).")):
        search_from_navbar(page, typed)
        expect(page.locator("#search-error")).to_have_text(message)
        expect(page.locator("#hits")).to_have_count(0)
    for typed in ("sun)", "(sun", "^sun", "-sun", '"sun'):  # FTS5 syntax is only text: "sun" is searched
        search_from_navbar(page, typed)
        expect(page.locator("#search-error")).to_have_count(0)
        expect(hits.first).to_be_visible()
    for typed in ("NEAR(sun", "text:sun"):  # one word with punctuation inside: the phrases "near sun", "text sun"
        search_from_navbar(page, typed)
        expect(page.locator("#search-error")).to_have_count(0)
        expect(page.locator("#no-hits")).to_be_visible()
    page.goto("/search?q=sun&speaker=Nobody")
    expect(page.locator("#search-error")).to_have_text("No one called 'Nobody' speaks in any processed video.")


# ---- 3. the clips page: two clips as one zip ------------------------------------------------------

def test_two_clips_download_as_one_zip_from_the_clips_page(page, server, library):
    job_id = library["job"]
    ids = [api(server, f"/api/jobs/{job_id}/clips", {"start": start, "end": start + 3})["id"] for start in (1, 10)]
    page.goto("/")
    page.get_by_role("link", name="Clips", exact=True).click()
    page.wait_for_url("**/clips")
    for clip_id in ids:  # cut while the page is open: the rows follow along without a reload
        expect(page.locator(f'[data-clip-id="{clip_id}"] .clip-status')).to_have_text("Created", timeout=CLIP_MS)
    assert all(wait_for_clip(server, clip_id)["status"] == "Created" for clip_id in ids)

    messages = []
    page.on("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Download selected as zip").click()
    assert messages == ["Select at least one ready clip to download."]

    for clip_id in ids:
        page.get_by_label(f"Select clip {clip_id}").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download selected as zip").click()
    assert re.fullmatch(r"clips-\d{8}-\d{6}\.zip", download.value.suggested_filename)
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert archive.testzip() is None
    newest_first = ids[::-1]  # in the page's order
    assert archive.namelist() == [f"Garden-show-clip-{clip_id}.mp4" for clip_id in newest_first]
    for clip_id in newest_first:
        on_disk = library["root"] / "clips" / str(job_id) / f"clip-{clip_id}.mp4"
        assert archive.read(f"Garden-show-clip-{clip_id}.mp4") == on_disk.read_bytes()
    assert archive.read(f"Garden-show-clip-{ids[0]}.mp4")[4:8] == b"ftyp"  # an MP4

    row = page.locator(f'[data-clip-id="{ids[0]}"]')
    row.get_by_text("Play").click()  # opening Play plays the clip in place
    video = row.locator("video")
    video.evaluate("v => { v.muted = true; }")
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0.2", arg=video.element_handle(), timeout=60_000)
    assert video.evaluate("v => v.duration") == pytest.approx(3.0, abs=0.2)


def test_filters_on_the_clips_page(page, server, library):
    job_id = library["job"]
    clip_id = api(server, f"/api/jobs/{job_id}/clips", {"start": 2, "end": 5, "vertical": True})["id"]
    assert wait_for_clip(server, clip_id)["status"] == "Created"
    page.goto("/clips")
    page.get_by_label("9:16").select_option("Vertical")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".clip-row")).to_have_count(1)
    expect(page.locator(".clip-row")).to_contain_text(f"Clip {clip_id} · 2.0–5.0 s · 9:16")
    page.get_by_label("Status").select_option("Failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#no-clips")).to_contain_text("No clips match these filters")


# ---- 4. a speaker named on the details page is found by that name -----------------------------------

def test_a_speaker_named_on_the_details_page_is_shown_and_found_by_name(page, server, library):
    job_id = library["job"]
    page.goto(f"/jobs/{job_id}")
    legend = page.locator('#speaker-legend .speaker-name[data-speaker="SPEAKER_01"]')
    legend.locator("summary").click()
    legend.get_by_label("Name of SPEAKER_01").fill("Anna Berg")
    with page.expect_navigation():
        legend.get_by_role("button", name="Save").click()
    try:
        search_from_navbar(page, "sun*")
        hits = page.locator("#hits .hit")
        expect(hits.filter(has_text="sunlight").locator(".hit-speaker")).to_have_text("Anna Berg")
        expect(hits.filter(has_text="How much sun").locator(".hit-speaker")).to_have_text("SPEAKER_00")
        hits.filter(has_text="sunlight").get_by_role("link", name="only Anna Berg").click()
        expect(hits).to_have_count(1)
        expect(page.locator("#search-speaker")).to_have_value("Anna Berg")
        person_id = next(p["id"] for p in api(server, "/api/people")["people"] if p["name"] == "Anna Berg")
        api(server, f"/api/people/{person_id}", {"name": "Anna Holm"}, method="PATCH")  # on the People page
        page.get_by_label("Speaker").fill("Anna Holm")
        page.get_by_role("button", name="Search").click()
        expect(hits.locator(".hit-speaker")).to_have_text("Anna Holm")
    finally:  # the other stories meet SPEAKER_01 unnamed
        api(server, f"/api/jobs/{job_id}/speakers/SPEAKER_01", {"name": ""}, method="PUT")


# ---- 5. a phone-sized screen ----------------------------------------------------------------------

def test_search_and_clips_pages_fit_a_390px_wide_screen(browser, server, library):
    context = browser.new_context(viewport=PHONE, base_url=server.base_url, is_mobile=True, has_touch=True)
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    try:
        for path in ("/search?q=sun*", "/clips", f"/jobs/{library['job']}", "/"):
            page.goto(path)
            page.wait_for_load_state("load")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, f"{path} scrolls sideways: {width}px"
            box = page.get_by_label("Search transcripts").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, (path, box)
    finally:
        context.close()
