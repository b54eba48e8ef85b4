"""Fetching: yt-dlp against the loopback server (direct files and an HLS ladder), local files, limits."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from pipeline import download
from pipeline.errors import DownloadError, SourceError
from pipeline.options import AnalysisOptions
from tests.conftest import MediaServer


# ---- format selection (pure) ----------------------------------------------------------------

@pytest.mark.parametrize("resolution, height", [("360p", 360), ("480p", 480), ("720p", 720), ("1080p", 1080)])
def test_format_selector_caps_the_height_and_falls_back(resolution, height):
    selector = download.format_selector(resolution)
    alternatives = selector.split("/")
    assert alternatives[0] == f"bv*[height<={height}]+ba"
    assert alternatives[1] == f"b[height<={height}]"
    assert alternatives[-2:] == ["bv*+ba", "b"]  # over the cap beats failing


def test_format_selector_best_has_no_cap():
    assert download.format_selector("best") == "bv*+ba/b"
    assert "height" not in download.format_selector("best")


def test_unknown_resolution_is_refused_by_the_options():
    with pytest.raises(ValueError, match="resolution"):
        AnalysisOptions(resolution="4k")


@pytest.mark.parametrize("raw, words", [
    ("ERROR: [generic] Unable to download webpage: HTTP Error 404: Not Found", ["not found", "404"]),
    ("ERROR: \x1b[0;31mUnsupported URL: http://example.invalid/\x1b[0m", ["no video", "not supported"]),
    ("ERROR: Unable to download: <urlopen error [Errno 111] Connection refused>", ["refused"]),
    ("ERROR: [Errno -2] Name or service not known", ["could not be found"]),
    ("ERROR: something new\nsecond line", ["download failed: something new"]),
])
def test_explain_download_error_gives_one_clear_line(raw, words):
    message = download.explain_download_error(raw)
    assert "\n" not in message and "\x1b" not in message and "ERROR:" not in message
    for word in words:
        assert word in message.lower()


# ---- real downloads over loopback -----------------------------------------------------------

@pytest.fixture(scope="module")
def hls_server(tmp_path_factory):
    """An HLS master playlist with a 360p and a 720p rendition, as video sites serve them."""
    root = tmp_path_factory.mktemp("hls")
    renditions = {360: "640x360", 720: "1280x720"}
    for height, size in renditions.items():
        (root / f"v{height}").mkdir()
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error",
                        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration=3",
                        "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-shortest", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                        str(root / f"v{height}" / "index.m3u8")], check=True, timeout=120)
    (root / "master.m3u8").write_text(
        "#EXTM3U\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.42c01e,mp4a.40.2"\n'
        "v360/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.42c01f,mp4a.40.2"\n'
        "v720/index.m3u8\n")
    server = MediaServer(root)
    yield server
    server.close()


@pytest.mark.parametrize("resolution, height", [("360p", 360), ("480p", 360), ("720p", 720), ("best", 720)])
def test_resolution_choice_picks_the_rendition(hls_server, tmp_path, resolution, height):
    info = download.download(hls_server.url("master.m3u8"), tmp_path, AnalysisOptions(resolution=resolution))
    assert info.height == height
    assert info.path == str(tmp_path / "video.mp4")
    assert info.duration == pytest.approx(3.0, abs=0.2)
    assert [p.name for p in tmp_path.iterdir()] == ["video.mp4"]


def _assert_progress_moves_forward(calls):
    fractions = [f for stage, f, _ in calls]
    assert {stage for stage, _, _ in calls} == {"download"}
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions), fractions
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len({f for f in fractions if 0.0 < f < 1.0}) >= 3, "no progress reported while downloading"


def test_progress_fractions_increase_during_a_direct_download(media_server, tmp_path):
    calls = []
    info = download.download(media_server.url("interview.mp4"), tmp_path, AnalysisOptions(),
                             lambda stage, fraction, detail: calls.append((stage, fraction, detail)))
    _assert_progress_moves_forward(calls)
    assert any("MB of" in detail for _, _, detail in calls)
    assert info.title == "interview"
    assert info.webpage_url == media_server.url("interview.mp4")
    assert (info.width, info.height) == (640, 360)
    assert not list(tmp_path.glob("*.part*")) and not list(tmp_path.glob("*.ytdl"))


def test_progress_never_steps_back_on_fragmented_downloads(hls_server, tmp_path):
    """HLS totals are estimates that grow as fragments arrive; the fraction must not go backwards."""
    calls = []
    download.download(hls_server.url("master.m3u8"), tmp_path, AnalysisOptions(resolution="720p"),
                      lambda stage, fraction, detail: calls.append((stage, fraction, detail)))
    _assert_progress_moves_forward(calls)


def test_max_duration_limit_gives_a_clear_error(media_server, tmp_path):
    with pytest.raises(DownloadError) as caught:
        download.download(media_server.url("interview.mp4"), tmp_path, AnalysisOptions(max_duration_seconds=10))
    message = str(caught.value)
    assert "\n" not in message
    assert "29 s long" in message and "limit of 10 s" in message


def test_within_the_duration_limit_is_fine(media_server, tmp_path):
    info = download.download(media_server.url("short.mp4"), tmp_path, AnalysisOptions(max_duration_seconds=60))
    assert info.duration < 60


def test_a_live_stream_is_refused_before_anything_is_downloaded(hls_server, tmp_path):
    """An HLS playlist with no end (no #EXT-X-ENDLIST) is a live stream: yt-dlp reports it as live."""
    playlist = (hls_server.root / "v360" / "index.m3u8").read_text()
    (hls_server.root / "live.m3u8").write_text(playlist.replace("#EXT-X-ENDLIST", "").replace("segment", "v360/segment")
                                               .replace("index", "v360/index"))
    with pytest.raises(DownloadError, match="This is a live stream; only recorded videos can be analysed."):
        download.download(hls_server.url("live.m3u8"), tmp_path, AnalysisOptions())
    assert not list(tmp_path.iterdir())


class _NoLengthHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without Content-Length (as chunked or streamed responses come): the size is unknown."""

    def send_header(self, keyword, value):
        if keyword.lower() != "content-length":
            super().send_header(keyword, value)

    def log_message(self, format, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the client hanging up mid-file is what these tests do


def test_size_limit_stops_a_download_of_unknown_size_as_it_arrives(media_dir, tmp_path):
    handler = functools.partial(_NoLengthHandler, directory=str(media_dir))
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.protocol_version = "HTTP/1.0"  # the body ends when the connection closes
    threading.Thread(target=server.serve_forever, daemon=True).start()
    calls = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/interview.mp4"  # about 7 MB
        with pytest.raises(DownloadError, match="larger than the limit of 2 MB; the download was stopped"):
            download.download(url, tmp_path, AnalysisOptions(max_filesize_mb=2), lambda *args: calls.append(args))
    finally:
        server.shutdown()
        server.server_close()
    assert all("of" not in detail for _, _, detail in calls[1:])  # the size really was unknown
    assert not list(tmp_path.iterdir())  # the partial file is gone


def test_size_limit_refuses_a_declared_size_at_once(media_server, tmp_path):
    calls = []
    with pytest.raises(DownloadError, match="larger than the limit of 1 MB"):
        download.download(media_server.url("interview.mp4"), tmp_path, AnalysisOptions(max_filesize_mb=1),
                          lambda *args: calls.append(args))
    assert len(calls) <= 2 and not list(tmp_path.iterdir())  # stopped at the first block


def test_ffmpeg_is_never_handed_a_network_address(tmp_path):
    """Where yt-dlp would still download with ffmpeg (a feature its HLS downloader lacks), ffmpeg
    may only read local files: every network fetch stays in yt-dlp, behind the address guard."""
    import yt_dlp
    from yt_dlp.downloader import get_suitable_downloader
    from yt_dlp.downloader.external import FFmpegFD

    params = download._ydl_options(tmp_path, AnalysisOptions(), hook=lambda status: None)
    for protocol in ("m3u8", "m3u8_native", "http_dash_segments", "https"):
        chosen = get_suitable_downloader({"protocol": protocol, "url": "https://example.com/x"}, params)
        assert chosen is not FFmpegFD, protocol
    with yt_dlp.YoutubeDL(params) as ydl:
        assert FFmpegFD(ydl, params)._configuration_args(("_i1", "_i")) == ["-protocol_whitelist", "file,crypto,data"]


def test_local_file_path_source(media_dir, tmp_path):
    calls = []
    info = download.download(str(media_dir / "interview.mp4"), tmp_path, AnalysisOptions(),
                             lambda *args: calls.append(args))
    assert info.path == str(tmp_path / "video.mp4")
    assert Path(info.path).read_bytes() == (media_dir / "interview.mp4").read_bytes()
    assert info.title == "interview" and info.webpage_url is None
    assert info.duration == pytest.approx(29.2, abs=0.5)
    assert calls[-1][:2] == ("download", 1.0)


def test_local_file_already_in_place_is_not_copied_onto_itself(media_dir, tmp_path):
    first = download.download(str(media_dir / "short.mp4"), tmp_path, AnalysisOptions())
    again = download.download(first.path, tmp_path, AnalysisOptions())
    assert again.path == first.path and again.duration == first.duration


def test_local_files_can_be_refused(media_dir, tmp_path):
    with pytest.raises(SourceError, match="neither an http"):
        download.download(str(media_dir / "interview.mp4"), tmp_path, AnalysisOptions(allow_local_files=False))
    assert not list(tmp_path.iterdir())


def test_youtube_javascript_challenges_have_a_runtime_and_solver():
    """yt-dlp needs yt-dlp-ejs and a JS runtime for YouTube; both come from pip, found without PATH."""
    import subprocess

    import yt_dlp_ejs  # noqa: F401  the solver scripts yt-dlp loads
    from pipeline.download import _js_runtimes

    deno = _js_runtimes()["deno"]["path"]
    version = subprocess.run([deno, "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert version.stdout.startswith("deno 2.")


def test_a_web_job_takes_the_file_uploaded_into_its_own_folder(media_dir, tmp_path):
    """Local files are refused to web jobs, except the upload the app stored in the job's folder:
    it is linked in as the video (no second copy) and keeps its name as the title."""
    upload = tmp_path / "upload" / "Garden talk.mp4"
    upload.parent.mkdir()
    shutil.copy(media_dir / "short.mp4", upload)
    info = download.download(str(upload), tmp_path, AnalysisOptions(allow_local_files=False))
    assert info.path == str(tmp_path / "video.mp4") and info.title == "Garden talk"
    assert os.path.samefile(info.path, upload)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload", "video.mp4"]
    with pytest.raises(SourceError, match="neither an http"):  # a file anywhere else is not
        download.download(str(media_dir / "short.mp4"), tmp_path / "other", AnalysisOptions(allow_local_files=False))
