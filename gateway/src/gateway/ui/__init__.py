"""The web UI: server-rendered pages in Finnish (/), Swedish (/sv/) and English (/en/)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, request
from uskalla_kit import Problem
from uskalla_kit.problems import problem_response
from werkzeug.exceptions import HTTPException

from gateway import session
from gateway.ui import common
from gateway.ui.i18n import LANGUAGES, PREFIXES, Catalogs, current_language, other_language_paths

ui = Blueprint("ui", __name__)


def _wants_page() -> bool:
    path = request.path
    return not (path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics"))


def init_ui(app: Flask) -> None:
    from gateway.ui import (  # noqa: F401 - each module adds its views to `ui`
        pages_archive,
        pages_coordinators,
        pages_experiments,
        pages_gathering_after,
        pages_gatherings,
        pages_me,
        pages_network,
        pages_notices,
        pages_stats,
        pages_workspace,
    )

    app.extensions["gateway.catalogs"] = Catalogs()
    for lang in LANGUAGES:
        app.register_blueprint(ui, url_prefix=PREFIXES[lang] or None, name=f"ui_{lang}")

    @app.context_processor
    def _globals() -> dict[str, Any]:
        identity = session.session_identity()
        return {
            "t": common.t,
            "link": common.link,
            "lang": current_language(),
            "lang_links": other_language_paths(),
            "csrf_token": session.csrf_token,
            "me": identity,
            "local_time": common.local_time,
            "machine_time": common.machine_time,
            "municipality_choices": common.municipality_choices,
            "theme_choices": common.theme_choices,
            "enum_choices": common.enum_choices,
            "name_of": common.name_of,
        }

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response | tuple[str, int, dict[str, str]]:
        if not _wants_page():
            return problem_response(exc)
        return (*_error_page(exc.status, exc.detail), exc.headers)  # Retry-After too

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if not _wants_page():
            headers = {}
            if status == 405 and getattr(exc, "valid_methods", None):
                headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
            return problem_response(
                Problem(status, exc.name, exc.description or exc.name, headers=headers)
            )
        return _error_page(status, "")


def _error_page(status: int, detail: str) -> tuple[str, int]:
    known = {400, 401, 403, 404, 405, 413, 429, 502, 504}
    kind = status if status in known else 500
    # Details from our own checks are catalog keys; an upstream's detail is shown as it is.
    message = (
        common.t(f"error.{detail}") if detail in ("sign_in_required", "coordinators_only") else ""
    )
    return common.render("error.html", status=status, kind=kind, message=message)
