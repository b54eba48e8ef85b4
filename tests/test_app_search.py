"""Search through the app: GET /api/search, the search page and the navbar box, and a hit's links
into the details page (play from a second, clip range filled in)."""
from __future__ import annotations

import re

import pytest

from tests.test_app_api import add_job, add_processed_job, app, client, make_app  # noqa: F401


def test_api_search_returns_ranked_highlighted_hits_with_links(app, client):
    job_id = add_processed_job(app)
    body = client.get("/api/search?q=tomatoes").get_json()
    assert (body["query"], body["speaker"], body["job"], body["more"], body["partial"]) == ("tomatoes", None, None,
                                                                                             False, False)
    [hit] = body["hits"]
    assert (hit["job_id"], hit["title"], hit["speaker"], hit["start"], hit["end"]) == (job_id, "Garden show",
                                                                                       "SPEAKER_01", 6.5, 11.5)
    assert hit["text"] == "Tomatoes are the best choice, because they grow quickly."
    assert hit["snippet"][:2] == [{"text": "Tomatoes", "match": True},
                                  {"text": " are the best choice, because they grow quickly.", "match": False}]
    assert hit["url"] == f"/jobs/{job_id}?t=6.5"
    assert (hit["clip_start"], hit["clip_end"]) == (5.5, 12.5)
    assert hit["clip_url"] == f"/jobs/{job_id}?t=6.5&start=5.5&end=12.5#custom-clip"


def test_api_search_filters_and_pages(app, client):
    first = add_processed_job(app, url="http://example.com/1")
    second = add_processed_job(app, url="http://example.com/2", title="Kitchen show")
    assert len(client.get("/api/search?q=need*").get_json()["hits"]) == 2  # "How much sun do they need?" twice
    body = client.get(f"/api/search?q=need*&job={second}").get_json()
    assert [hit["job_id"] for hit in body["hits"]] == [second] and body["job"] == second
    body = client.get("/api/search?q=sun*&speaker=SPEAKER_01").get_json()
    assert {hit["speaker"] for hit in body["hits"]} == {"SPEAKER_01"} and len(body["hits"]) == 2
    page = client.get("/api/search?q=sun*&limit=3").get_json()
    rest = client.get("/api/search?q=sun*&limit=3&offset=3").get_json()
    assert page["more"] and not rest["more"] and (page["limit"], rest["offset"]) == (3, 3)
    assert len({hit["segment_id"] for hit in page["hits"] + rest["hits"]}) == 4
    assert client.get("/api/search?q=sun*&limit=100000").get_json()["limit"] == 100
    assert {first, second} == {hit["job_id"] for hit in page["hits"] + rest["hits"]}


def test_hits_show_the_name_given_to_a_speaker_and_a_rename_at_once(app, client):
    job_id = add_processed_job(app)
    assert client.put(f"/api/jobs/{job_id}/speakers/SPEAKER_01", json={"name": "Anna Berg"}).status_code == 200
    [hit] = client.get("/api/search?q=tomatoes").get_json()["hits"]
    assert (hit["speaker"], hit["speaker_name"]) == ("SPEAKER_01", "Anna Berg")
    assert len(client.get("/api/search?q=sun*&speaker=Anna Berg").get_json()["hits"]) == 1
    html = client.get("/search?q=sun*").get_data(as_text=True)
    assert '<span class="hit-speaker">Anna Berg</span>' in html and ">only Anna Berg</a>" in html
    assert '<option value="Anna Berg">' in html and '<option value="SPEAKER_01">' not in html
    person_id = client.get("/api/people").get_json()["people"][0]["id"]
    assert client.patch(f"/api/people/{person_id}", json={"name": "Anna Holm"}).status_code == 200
    assert client.get("/api/search?q=tomatoes").get_json()["hits"][0]["speaker_name"] == "Anna Holm"
    response = client.get("/api/search?q=tomatoes&speaker=Anna Berg")
    assert response.status_code == 400 and "No one called 'Anna Berg'" in response.get_json()["error"]


@pytest.mark.parametrize("query, status, message", [
    ("", 400, "Type a word to search for"),
    ("q=", 400, "Type a word to search for"),
    ("q=*", 400, "Type a word to search for"),
    ("q=%22%22", 400, "Type a word to search for"),
    ("q=t*", 400, "at least 2 letters before *"),
    ("q=sun&job=abc", 400, "'abc' is not a job id"),
    ("q=sun&job=999", 404, "There is no job 999."),
    ("q=sun&speaker=Nobody", 400, "No one called 'Nobody' speaks in any processed video."),
])
def test_api_search_refuses_bad_input_readably(app, client, query, status, message):
    add_processed_job(app)
    response = client.get(f"/api/search?{query}")
    assert response.status_code == status and response.is_json
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("query", ['"six hours', "NEAR(sun", "sun)", "text:sun", "sun AND", "OR sun", "^sun",
                                   "sun -", '"sun" "', "{sun}", "sun:*"])
def test_api_search_takes_fts_syntax_as_plain_words(app, client, query):
    add_processed_job(app)
    response = client.get("/api/search", query_string={"q": query})
    assert response.status_code == 200, response.get_json()


def test_search_box_is_on_every_page(app, client):
    job_id = add_processed_job(app)
    for path in ("/", f"/jobs/{job_id}", "/errors", "/clips", "/search"):
        html = client.get(path).get_data(as_text=True)
        assert re.search(r'<form class="ms-auto nav-search" role="search" method="get" action="/search">', html), path
        assert 'aria-label="Search transcripts"' in html


def test_search_page_shows_hits_escaped_with_the_words_marked(app, client):
    said = 'Tomatoes <script>alert(1)</script> & <b>bold</b> \x02claims\x03'
    job_id = add_processed_job(app, title="<i>Garden</i> show", texts=["Is this safe?", said])
    response = client.get("/search?q=tomatoes")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    hit = html[html.index('id="hits"'):]
    assert "<script>" not in hit and "<b>" not in hit and "<i>" not in hit
    assert "<mark>Tomatoes</mark> &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in hit
    assert "&lt;i&gt;Garden&lt;/i&gt; show" in hit and "SPEAKER_01" in hit and ">0:06<" in hit
    assert f'href="/jobs/{job_id}?t=6.5"' in hit and "Play from 0:06" in hit
    assert f'href="/jobs/{job_id}?t=6.5&amp;start=5.5&amp;end=12.5#custom-clip"' in hit and "Clip this" in hit
    assert f'href="/search?q=tomatoes&amp;job={job_id}"' in hit  # only this video
    assert 'href="/search?q=tomatoes&amp;speaker=SPEAKER_01"' in hit  # only this speaker


def test_search_page_filters_and_says_what_is_wrong(app, client):
    job_id = add_processed_job(app, title="Garden show")
    html = client.get("/search").get_data(as_text=True)  # a first visit: the form, no complaint
    assert 'id="search-form"' in html and 'id="search-error"' not in html and 'id="hits"' not in html
    assert '<option value="SPEAKER_00">' in html and '<option value="SPEAKER_01">' in html  # speaker names offered
    response = client.get("/search?q=")
    assert response.status_code == 400 and "Type a word to search for" in response.get_data(as_text=True)
    html = client.get(f"/search?q=sun*&job={job_id}&speaker=SPEAKER_00").get_data(as_text=True)
    assert 'id="job-filter"' in html and "Garden show" in html and f'name="job" value="{job_id}"' in html
    assert html.count('class="list-group-item hit"') == 1 and 'value="SPEAKER_00"' in html
    response = client.get("/search?q=sun&speaker=Nobody")
    assert response.status_code == 400 and "No one called &#39;Nobody&#39;" in response.get_data(as_text=True)
    response = client.get("/search?q=sun&job=999")
    assert response.status_code == 404 and "There is no job 999." in response.get_data(as_text=True)
    html = client.get("/search?q=moon").get_data(as_text=True)
    assert 'id="no-hits"' in html


def test_search_page_pages(app, client):
    add_processed_job(app, texts=[f"Tomatoes number {i}." for i in range(45)], duration=300.0)
    html = client.get("/search?q=tomatoes").get_data(as_text=True)
    assert html.count('class="list-group-item hit"') == 20 and "page=2" in html and "Better matches" not in html
    html = client.get("/search?q=tomatoes&page=3").get_data(as_text=True)
    assert html.count('class="list-group-item hit"') == 5 and "page=2" in html and ">More<" not in html


def test_details_page_fills_the_custom_range_from_the_address(app, client):
    job_id = add_processed_job(app)
    html = client.get(f"/jobs/{job_id}?t=6.5&start=5.5&end=12.5").get_data(as_text=True)
    assert 'id="clip-start" name="start" inputmode="decimal" placeholder="0" value="5.5"' in html
    assert 'value="12.5"></div>' in html
    for odd in ("start=abc&end=nan", "start=inf&end=-inf", ""):
        html = client.get(f"/jobs/{job_id}?{odd}").get_data(as_text=True)
        assert 'placeholder="0" value=""' in html, odd


def test_openapi_describes_the_search():
    import yaml
    from pathlib import Path
    spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "static" / "openapi.yaml").read_text())
    parameters = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert parameters == {"q", "speaker", "job", "limit", "offset"}
    hit = set(spec["components"]["schemas"]["Hit"]["properties"])
    assert {"speaker", "speaker_name", "snippet", "url", "clip_url", "clip_start", "clip_end"} <= hit
