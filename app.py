"""The web app: `create_app()` builds it; `python app.py` locks the data folder, starts the worker
and serves the app with Waitress; `flask --app app users …` manages accounts."""
from __future__ import annotations

import logging
import os
import signal
import sys
from datetime import datetime

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

import auth
import commands
import db
import security
import settings_store
import uploads
from config import ROOT, ConfigError, Settings, is_loopback, load_settings
from events import Broadcaster
from instance_lock import AlreadyRunning, lock_data_folder
from worker import Worker

csrf = CSRFProtect()


def create_app(config: dict | None = None, env_file: dict | None = None) -> Flask:
    """Build the app; `config` may override settings (any SETTINGS name), `env_file` holds .env's values.

    Its worker is created, not started: only the entry point (main) runs one, after locking the
    data folder, so a shell (`flask users …`) or a second process never runs jobs as well.
    """
    settings: Settings = load_settings(config, env_file=env_file)
    for folder in (settings.download_dir, settings.processed_clips_dir, settings.database_path.parent):
        folder.mkdir(parents=True, exist_ok=True)

    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.flask_secret_key, SETTINGS=settings,
                      WTF_CSRF_TIME_LIMIT=None, MAX_CONTENT_LENGTH=1024 * 1024)
    security.init_app(app)
    db.init_app(app)
    settings_store.current(settings)  # a stored value that is no longer valid stops start-up with its name
    auth.init_app(app)
    csrf.init_app(app)
    app.cli.add_command(commands.users)

    from views import accounts as account_views, api, auth as auth_views, clips, events, files, pages, people
    from views import search, settings as settings_views
    for blueprint in (pages.bp, search.bp, clips.bp, people.bp, files.bp, events.bp, api.bp, auth_views.bp,
                      account_views.bp, settings_views.bp):
        app.register_blueprint(blueprint)
    # The JSON API is protected by requiring a JSON body type (browsers cannot send one
    # cross-site without a CORS preflight, which we never grant) instead of a form token.
    csrf.exempt(api.bp)
    csrf.exempt(pages.upload)  # the uploads check the token themselves (views/uploading.py)
    app.before_request(_api_requires_json)

    broadcaster = Broadcaster()
    worker = Worker(settings, broadcaster)
    app.extensions["broadcaster"] = broadcaster
    app.extensions["worker"] = worker

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        message = auth.CSRF_REFUSED
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            return jsonify(error=message), 400
        return render_template("pages/message.html", title="Request refused", message=message), 400

    @app.errorhandler(404)
    def not_found(_error):
        if request.path.startswith("/api/"):
            return jsonify(error="Not found."), 404
        return render_template("pages/message.html", title="Not found",
                               message="There is nothing at this address; the job may have been deleted."), 404

    @app.template_filter("datetime")
    def format_datetime(epoch):
        return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch else ""

    @app.before_request
    def remember_events_version():
        # Read before the page reads the database: its live updates resume after this position.
        g.events_since = broadcaster.position()

    @app.context_processor
    def queue_counts():
        return {"nav_errors": db.count_jobs(db.get_db(), "Error") if g.get("user") else 0}

    return app


def _api_requires_json():
    if (request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH") and not request.is_json
            and request.endpoint != "api.upload"):  # a form with a file, behind its own CSRF check
        return jsonify(error="Send JSON with Content-Type: application/json."), 415
    return None


def _no_account_message(settings: Settings) -> str | None:
    """Why the app must not start: it would listen beyond this machine with sign-in required and no account."""
    if not settings.sign_in_required or is_loopback(settings.host):
        return None
    connection = db.connect(settings.database_path)
    try:
        if db.count_users(connection):
            return None
    finally:
        connection.close()
    return (f"Sign-in is required on {settings.host} and there is no account yet: create one with "
            "`flask --app app users create NAME --admin`, then start again.")


def main() -> int:
    from dotenv import dotenv_values, load_dotenv
    from waitress import create_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env_file = ROOT / ".env"
    try:
        app = create_app(env_file=dotenv_values(env_file) if env_file.is_file() else None)
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    settings, worker = app.config["SETTINGS"], app.extensions["worker"]
    refusal = _no_account_message(settings)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    try:
        lock = lock_data_folder(settings.database_path.parent)
    except AlreadyRunning as error:
        print(error, file=sys.stderr)
        return 3
    load_dotenv(env_file)  # the other programs' variables in .env (HF_HOME, …); ours are read above
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    if not settings_store.current(settings).hugging_face_token:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub at import: set it first
    # SIGTERM (service managers, `kill`) stops like Ctrl-C: the worker is told to stop first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uploads.clear_staging(settings)
    worker.start(keep_fds=(lock,))
    mode = "sign-in required" if settings.sign_in_required else "no sign-in"
    print(f"Serving on http://{settings.host}:{settings.port} ({mode})", flush=True)
    proxy = ({"trusted_proxy": settings.trusted_proxy, "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}}
             if settings.trusted_proxy else {})
    # Waitress receives a whole request body (into a temporary file past 512 kB) before the app sees
    # it: it refuses one larger than an upload may be as soon as its length is declared. Its limit
    # follows MAX_UPLOAD_MB when the Settings page changes it (each request reads it anew).
    server = create_server(app, host=settings.host, port=settings.port, threads=settings.waitress_threads,
                           channel_timeout=120, ident="clipper",
                           max_request_body_size=uploads.body_limit(settings_store.current(settings)), **proxy)
    settings_store.on_change(app, lambda now: setattr(server.adj, "max_request_body_size", uploads.body_limit(now)))
    try:
        server.run()
    finally:
        worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
