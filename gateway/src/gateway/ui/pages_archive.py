"""The public newsletter archive: the list of sent public newsletters and each one as sent.

A newsletter is shown as the e-mail document itself (the very HTML its readers got), served
alone under a policy of its own: its styles are inline, as e-mail needs, and it may load
nothing else and run nothing at all."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from uskalla_kit import Problem

from gateway.ui import client, ui
from gateway.ui.common import render
from gateway.ui.i18n import current_language

#: The e-mail document's policy: inline styles and data: images only, no script, no fetch.
MAIL_CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "sandbox allow-popups allow-popups-to-escape-sandbox",
    ]
)
PER_PAGE = 20


def mail_document(html: str) -> Response:
    """A newsletter's HTML part as a page of its own (the preview, an archived letter)."""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@ui.get("/newsletters")
def archive() -> tuple[str, int]:
    page = max(1, request.args.get("page", 1, type=int) or 1)
    answer = client.get("/api/v1/newsletters/archive", page=page, per_page=PER_PAGE)
    total = int(answer.item("total", 0) or 0)
    return render(
        "newsletters/archive.html",
        items=client.items_of(answer),
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        failed=not answer.ok,
    )


@ui.get("/newsletters/<uuid:newsletter_id>")
def archived(newsletter_id: Any) -> Response:
    answer = client.get(f"/api/v1/newsletters/archive/{newsletter_id}", language=current_language())
    html = answer.item("html")
    if not answer.ok or not isinstance(html, str):
        status = answer.status if answer.status >= 400 else 502
        raise Problem(status, "Not found" if status == 404 else "Unavailable", "")
    return mail_document(html)
