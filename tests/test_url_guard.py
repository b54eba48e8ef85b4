"""Every address a download connects to is checked when it connects, not only the URL that was typed.

The real app (`python app.py`, its analysis process, the real yt-dlp) with private addresses refused
except 127.0.0.2, which stands for a public site: it serves redirects, pages, HLS and DASH
manifests that lead to 127.0.0.1, a private address. Each job must fail with a readable reason,
and the private server must never be reached.
"""
from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading

import pytest

from tests.conftest import LiveServer
from tests.test_app_live import call, job, submit, wait_for, wait_job

ALLOWED_HOST = "127.0.0.2"  # the "public" site
REFUSED = "The download was refused: "


class _LoggingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder, answers paths in `server.redirects` with a 302, and logs every request."""

    def do_GET(self):
        self.server.requests.append(self.path)
        target = self.server.redirects.get(self.path)
        if target:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format, *args):
        pass


class Site:
    def __init__(self, host: str, root):
        self.httpd = http.server.ThreadingHTTPServer((host, 0), functools.partial(_LoggingHandler, directory=str(root)))
        self.httpd.requests, self.httpd.redirects = [], {}
        self.root = root
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address
        return f"http://{host}:{port}/{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def sites(tmp_path_factory, media_dir):
    """(public, private): the private one holds the media; the public one leads to it."""
    private_root, public_root = tmp_path_factory.mktemp("private"), tmp_path_factory.mktemp("public")
    shutil.copy(media_dir / "short.mp4", private_root / "short.mp4")
    shutil.copy(media_dir / "short.mp4", public_root / "short.mp4")
    for kind, extra in (("hls", ["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod"]),
                        ("dash", ["-f", "dash", "-seg_duration", "1"])):
        (private_root / kind).mkdir()
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
                        "-f", "lavfi", "-i", "sine=duration=3", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", *extra,
                        str(private_root / kind / ("index.m3u8" if kind == "hls" else "manifest.mpd"))],
                       check=True, timeout=120)
    private = Site("127.0.0.1", private_root)
    public = Site(ALLOWED_HOST, public_root)
    base = private.url("")
    # A page whose video lives on the private server: the extractor finds the address in the page.
    (public_root / "page.html").write_text(
        f'<html><head><title>Embedded</title></head><body><video src="{base}short.mp4"></video></body></html>')
    # An HLS master playlist whose rendition is on the private server.
    (public_root / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x240\n" f"{base}hls/index.m3u8\n")
    # An HLS media playlist whose fragments are on the private server.
    playlist = (private_root / "hls" / "index.m3u8").read_text()
    (public_root / "fragments.m3u8").write_text(
        "\n".join(f"{base}hls/{line}" if line.endswith(".ts") else line for line in playlist.splitlines()) + "\n")
    # A DASH manifest whose segments are on the private server.
    manifest = (private_root / "dash" / "manifest.mpd").read_text()
    (public_root / "manifest.mpd").write_text(manifest.replace("<Period", f"<BaseURL>{base}dash/</BaseURL><Period", 1))
    # A redirect to the private server, by a name that resolves to it.
    public.httpd.redirects["/redirect.mp4"] = f"http://localhost:{private.httpd.server_address[1]}/short.mp4"
    yield public, private
    public.close()
    private.close()


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("guarded") / "app", ALLOW_PRIVATE_URLS="0",
                      ALLOWED_NETWORKS=f"{ALLOWED_HOST}/32").start()
    yield live
    live.stop()


@pytest.mark.parametrize("path, reason", [
    ("redirect.mp4", "localhost resolves to a private address"),
    ("page.html", "127.0.0.1 is a private address"),
    ("master.m3u8", "127.0.0.1 is a private address"),
    ("fragments.m3u8", "127.0.0.1 is a private address"),
    ("manifest.mpd", "127.0.0.1 is a private address"),
])
def test_a_download_leading_to_a_private_address_is_refused_when_it_connects(guarded_server, sites, path, reason):
    public, private = sites
    created = submit(guarded_server, public.url(path))  # the typed URL is fine: 127.0.0.2 is allowed
    done = wait_job(guarded_server, created["id"])
    assert done["status"] == "Error", done
    assert done["error"].startswith(REFUSED) and reason in done["error"], done["error"]
    assert "ALLOW_PRIVATE_URLS=1" in done["error"] and done["step"] == "download"
    assert private.httpd.requests == []  # the private server was never reached
    assert f"/{path}" in public.httpd.requests


def test_the_allowed_site_itself_downloads(guarded_server, sites):
    public, private = sites
    created = submit(guarded_server, public.url("short.mp4"))
    wait_for(lambda: job(guarded_server, created["id"]),
             lambda j: j["status"] not in ("Queued", "Downloading"))
    call(guarded_server, "POST", f"/api/jobs/{created['id']}/cancel", {})
    done = wait_job(guarded_server, created["id"])
    assert done["status"] in ("Cancelled", "Processed"), done
    assert private.httpd.requests == []


def test_the_typed_address_is_still_checked_at_submit(guarded_server, sites):
    _, private = sites
    status, body = call(guarded_server, "POST", "/api/jobs", {"url": private.url("short.mp4")})
    assert status == 400 and "private or local address" in body["error"]
    status, body = call(guarded_server, "POST", "/api/jobs", {"url": "http://unknown-host.invalid/v.mp4"})
    assert status == 400 and "was not found" in body["error"]
