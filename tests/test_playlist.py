"""Listing a playlist: the real yt-dlp against feeds and pages served over loopback, nothing downloaded."""
from __future__ import annotations

import pytest

from pipeline import playlist
from pipeline.errors import DownloadError, SourceError


def test_a_feed_lists_its_videos_in_order_with_their_titles(playlist_server):
    listed = playlist.list_videos(playlist_server.url("three.xml"), limit=50)
    assert listed.title == "Garden talks" and listed.url == playlist_server.url("three.xml")
    assert [(e.url, e.title) for e in listed.entries] == [
        (playlist_server.url(f"short.mp4?part={n}"), f"Garden talk {n}") for n in (1, 2, 3)]
    assert listed.more is False and listed.video_count == 3


def test_over_the_limit_only_the_first_videos_are_listed_and_it_says_there_are_more(playlist_server):
    listed = playlist.list_videos(playlist_server.url("three.xml"), limit=2)
    assert [e.title for e in listed.entries] == ["Garden talk 1", "Garden talk 2"]
    assert listed.more is True and listed.video_count == 3


def test_a_page_of_videos_lists_each_of_them(playlist_server):
    listed = playlist.list_videos(playlist_server.url("page.html"), limit=50)
    assert listed.title == "Two clips"
    assert [e.url for e in listed.entries] == [playlist_server.url("short.mp4"), playlist_server.url("silence.mp4")]


def test_an_empty_playlist_is_refused(playlist_server):
    with pytest.raises(SourceError, match="The playlist 'Nothing yet' has no videos."):
        playlist.list_videos(playlist_server.url("empty.xml"), limit=50)


def test_a_single_video_is_not_a_playlist(playlist_server):
    with pytest.raises(SourceError, match="is a single video, not a playlist or channel"):
        playlist.list_videos(playlist_server.url("short.mp4"), limit=50)


def test_a_missing_playlist_says_why(playlist_server):
    with pytest.raises(DownloadError, match=r"The playlist could not be listed\. .*HTTP 404"):
        playlist.list_videos(playlist_server.url("gone.xml"), limit=50)


def test_a_channel_s_tabs_are_walked_into():
    """A channel lists its tabs (Videos, Shorts...) as playlists inside it: their videos, in order."""
    channel = {"entries": [{"_type": "playlist", "entries": [{"url": "https://example.com/v/1", "title": "One"},
                                                             {"url": "https://example.com/v/2"}]},
                           None,
                           {"_type": "playlist", "entries": [{"_type": "url", "url": "https://example.com/s/3"}]}]}
    assert [(e.url, e.title) for e in playlist._entries(channel)] == [
        ("https://example.com/v/1", "One"), ("https://example.com/v/2", None), ("https://example.com/s/3", None)]
