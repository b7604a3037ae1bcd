"""Internal endpoints (gateway → service), guarded by a shared token in X-Internal-Token.

INTERNAL_API_TOKEN rotates as the kit's other secrets do: "new,old", newest first. A service
accepts every token listed; the gateway presents the first.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from uskalla_kit.problems import Problem
from uskalla_kit.sealed import secrets_list

HEADER = "X-Internal-Token"
EXTENSION = "uskalla.internal_token"


def init_app(app: Flask, tokens: str) -> None:
    """The tokens the gateway may present ("new,old"); without one (empty) no call is internal."""
    app.extensions[EXTENSION] = secrets_list(tokens)


def presented_token(tokens: str) -> str:
    """The token a caller presents: the newest of INTERNAL_API_TOKEN's ("new,old")."""
    listed = secrets_list(tokens)
    return listed[0] if listed else ""


def require_internal() -> None:
    """401 unless the caller presents one of the internal tokens (never public clients)."""
    expected: list[str] = current_app.extensions.get(EXTENSION, [])
    given = request.headers.get(HEADER, "").encode()
    # Every token is compared, so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(given, token.encode()) for token in expected]
    if not any(matches):
        raise Problem(401, "Unauthorized", "This endpoint is for the gateway only.")
