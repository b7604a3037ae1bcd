"""Internal endpoints (gateway → service), guarded by a shared token in X-Internal-Token."""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from uskalla_kit.problems import Problem

HEADER = "X-Internal-Token"
EXTENSION = "uskalla.internal_token"


def init_app(app: Flask, token: str) -> None:
    """The token the gateway presents; without one (empty) no call is internal."""
    app.extensions[EXTENSION] = token


def require_internal() -> None:
    """401 unless the caller presents the internal token (never public clients)."""
    expected: str = current_app.extensions.get(EXTENSION, "")
    given = request.headers.get(HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Problem(401, "Unauthorized", "This endpoint is for the gateway only.")
