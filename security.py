"""What every request must pass and every response carries: the Host check and the browser's security headers."""
from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",  # no inline script anywhere: an injected <script> or onclick never runs
    # <style> and stylesheets only from /static; style attributes are allowed for the data-driven
    # progress widths and speaker colours (CSP 3 browsers read style-src-elem for elements).
    "style-src 'self' 'unsafe-inline'",
    "style-src-elem 'self'",
    "img-src 'self' data: https:",  # Bootstrap's icons are data: URLs; thumbnails come from the video's site
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",  # other sites cannot embed the videos or transcripts
}


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port: 'example.com:5001' -> 'example.com', '[::1]:5001' -> '[::1]'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.partition(":")[0]


def refuse_other_hosts():
    """Answer only to the configured names (any port).

    DNS rebinding: a page at attacker.example whose name is switched to resolve to 127.0.0.1 talks to
    this server as its own origin, so the browser's same-origin rules no longer protect it; only the
    Host header still names the attacker's site. Flask's TRUSTED_HOSTS cannot hold IPv6 addresses
    (werkzeug cuts each trusted name at its first colon), hence this check.
    """
    name = host_name(request.headers.get("Host", ""))
    if name in current_app.config["SETTINGS"].allowed_hosts:
        return None
    message = f"This app does not answer to the name {name!r}; add it to ALLOWED_HOSTS to use it."
    if request.path.startswith("/api/"):
        return jsonify(error=message), 400
    return Response(message + "\n", 400, mimetype="text/plain")


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Call before anything else registers a hook: a refused host reaches no other hook or view."""
    app.before_request(refuse_other_hosts)
    app.after_request(add_headers)
