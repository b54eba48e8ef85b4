"""The search page: the navbar's box lands here, with filters by speaker and by video."""
from __future__ import annotations

from flask import Blueprint, render_template, request

import db
import search
from jobs import UserError
from views.serialize import hit_dict

bp = Blueprint("search", __name__)
PAGE_SIZE = 20


@bp.get("/search")
def results():
    connection = db.get_db()
    page = min(max(request.args.get("page", 1, type=int), 1), db.SEARCH_WINDOW // PAGE_SIZE)
    found, error, job = None, None, None
    try:
        text, speaker, job_id = search.request_filters(connection, request.args)
        job = db.get_job(connection, job_id) if job_id is not None else None
        if "q" in request.args:  # a first visit, without a query, shows the form and no complaint
            found = search.search(connection, text, speaker, job_id, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    except UserError as exc:
        error = exc
    return render_template(
        "search/results.html", found=found, hits=[hit_dict(hit) for hit in found.hits] if found else [],
        error=error, job=job, page=page, query=request.args.get("q", ""), speaker=request.args.get("speaker", ""),
        speakers=db.speakers(connection, job["id"] if job else None), window=db.SEARCH_WINDOW,
    ), error.status if error else 200
