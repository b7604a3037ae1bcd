"""Internal endpoints (gateway → service), guarded by a shared token in X-Internal-Token."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, request

from uskalla_kit.problems import Problem

HEADER = "X-Internal-Token"
EXTENSION = "uskalla.internal_token"
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask, token: str) -> None:
    """The token the gateway presents; without one (empty) no call is internal."""
    app.extensions[EXTENSION] = token


def require_internal() -> None:
    """401 unless the caller presents the internal token (never public clients)."""
    expected: str = current_app.extensions.get(EXTENSION, "")
    given = request.headers.get(HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Problem(401, "Unauthorized", "This endpoint is for the gateway only.")


def internal_only(view: F) -> F:
    """Transitional: views not yet declared with `@documented(auth="internal")`."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_internal()
        return view(*args, **kwargs)

    return cast(F, wrapper)
