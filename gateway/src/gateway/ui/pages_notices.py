"""The notices a public service owes its users: the privacy notice and the accessibility
statement (laki digitaalisten palvelujen tarjoamisesta 306/2019)."""

from __future__ import annotations

from flask import current_app
from uskalla_kit import Problem
from werkzeug.wrappers import Response as BaseResponse

from gateway.config import Settings
from gateway.ui import ui
from gateway.ui.common import render

Page = tuple[str, int] | BaseResponse
#: The privacy notices whose text this gateway has, by version (what members records at
#: consent from its PRIVACY_NOTICE_VERSION); the current one is the gateway's same setting.
NOTICES = {"2026-01": "2026-01-15"}
#: When the accessibility statement was drawn up and last reviewed (ISO dates).
STATEMENT_DRAWN_UP = "2026-12-03"
STATEMENT_REVIEWED = "2026-12-03"


def _settings() -> Settings:
    settings: Settings = current_app.extensions["gateway.settings"]
    return settings


@ui.get("/privacy")
def privacy() -> Page:
    version = _settings().privacy_notice_version
    if version not in NOTICES:  # a version members records must be one we can show
        raise Problem(404, "Not Found", "")
    return render(
        "notices/privacy.html",
        version=version,
        published=NOTICES[version],
        contact=_settings().contact_email,
    )


@ui.get("/accessibility")
def accessibility() -> Page:
    return render(
        "notices/accessibility.html",
        drawn_up=STATEMENT_DRAWN_UP,
        reviewed=STATEMENT_REVIEWED,
        contact=_settings().contact_email,
    )
