"""What every request must pass: the Host check."""
from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request


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


def init_app(app: Flask) -> None:
    """Call before anything else registers a hook: a refused host reaches no other hook or view."""
    app.before_request(refuse_other_hosts)
