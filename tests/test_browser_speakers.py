"""Speaker names in a real browser: name a speaker on the page, see the name in the segments and in
the burned-in captions of a clip cut afterwards; the same voice in a second video is suggested by
name and accepted; the People page lists the person with both videos.

Runs the real app under Waitress with the real models: interview.mp4 and short.mp4 share their
two espeak-ng voices (short.mp4 is two lines of the interview).
"""
from __future__ import annotations

import subprocess
import urllib.request

import numpy as np
import pytest

from tests.test_browser import (CLIP_MS, api, browser, expect, page, server, wait_for_job)  # noqa: F401


def clip_frame(server, clip: dict, second: float, tmp_path, name: str) -> np.ndarray:
    """The clip's frame at `second`, grey, as pixels (the file fetched over HTTP like a browser would)."""
    path = tmp_path / f"{name}.mp4"
    with urllib.request.urlopen(server.base_url + clip["url"], timeout=30) as response:
        path.write_bytes(response.read())
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(second), "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    width, height = 640, 360
    return np.frombuffer(raw, dtype=np.uint8)[: width * height].reshape(height, width)


def cut_with_captions(page, server, job_id: int, start: float, end: float) -> dict:
    page.goto(f"/jobs/{job_id}")
    custom = page.locator("#custom-clip")
    custom.get_by_label("Start (s)").fill(str(start))
    custom.get_by_label("End (s)").fill(str(end))
    custom.get_by_label("Captions").check()
    custom.get_by_role("button", name="Create Clip").click()
    expect(custom.locator(".clip-state")).to_have_text("Created", timeout=CLIP_MS)
    return max(api(server, f"/api/jobs/{job_id}/clips")["clips"], key=lambda c: c["id"])


def test_a_named_speaker_is_named_in_captions_and_recognised_in_another_video(page, server, media_server, tmp_path):
    jobs = api(server, "/api/jobs", {"urls": [media_server.url("interview.mp4"), media_server.url("short.mp4")]})
    interview, short = (job["id"] for job in jobs["jobs"])
    for job_id in (interview, short):
        assert wait_for_job(server, job_id)["status"] == "Processed"
    first = api(server, f"/api/jobs/{interview}/segments")["segments"][0]
    label = first["speaker"]
    start, end = max(0.0, first["start"] - 0.2), first["end"]
    unnamed = cut_with_captions(page, server, interview, start, end)

    # Name the speaker of the first line by clicking its label.
    page.goto(f"/jobs/{interview}")
    legend = page.locator(f'#speaker-legend .speaker-name[data-speaker="{label}"]')
    legend.locator("summary").click()
    page.get_by_label(f"Name of {label}").fill("Diane")
    legend.get_by_role("button", name="Save").click()
    expect(page.locator(".alert")).to_contain_text(f"{label} is now Diane.")
    expect(page.locator(f'#speaker-legend .speaker-name[data-speaker="{label}"] summary')).to_have_text("Diane")
    expect(page.locator("#tab-segments")).to_contain_text("Diane")
    page.get_by_role("tab", name="Transcript").click()
    expect(page.locator("#transcript")).to_contain_text("Diane:")

    # A clip cut now says who speaks: same range, same frame, different burned-in caption.
    named = cut_with_captions(page, server, interview, start, end)
    moment = min(1.0, (end - start) / 2)
    before = clip_frame(server, unnamed, moment, tmp_path, "unnamed")
    after = clip_frame(server, named, moment, tmp_path, "named")
    caption_rows = slice(2 * before.shape[0] // 3, before.shape[0])
    assert np.abs(before[: before.shape[0] // 2].astype(int) - after[: after.shape[0] // 2]).mean() < 1.0  # the picture
    assert np.abs(before[caption_rows].astype(int) - after[caption_rows]).mean() > 1.0  # the caption changed

    # The second video: the same voice is suggested as Diane; accepting names it.
    page.goto(f"/jobs/{short}")
    suggestion = page.locator("form.suggestion").filter(has_text="looks like Diane")
    expect(suggestion).to_have_count(1)
    suggested = suggestion.get_attribute("data-speaker")
    similarity = float(suggestion.inner_text().split("similarity ")[1].split(")")[0])
    assert similarity >= 0.75
    suggestion.get_by_role("button", name="Accept").click()
    expect(page.locator(f'#speaker-legend .speaker-name[data-speaker="{suggested}"] summary')).to_have_text("Diane")
    expect(page.locator("form.suggestion").filter(has_text="Diane")).to_have_count(0)

    page.goto("/people/")
    card = page.locator("#people [data-person-id]").filter(has_text="Diane")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("2 videos")
    assert [p["videos"] for p in api(server, "/api/people")["people"] if p["name"] == "Diane"] == [2]
