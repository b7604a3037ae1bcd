"""Internal endpoints (gateway → service), guarded by a shared token in X-Internal-Token."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import request

from uskalla_kit.problems import Problem
from uskalla_kit.runtime import current_runtime

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "X-Internal-Token"


def internal_only(view: F) -> F:
    """The view answers only callers presenting the internal token (never public clients)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected = current_runtime().settings.internal_token
        given = request.headers.get(HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Problem(401, "Unauthorized", "This endpoint is for the gateway only.")
        return view(*args, **kwargs)

    return cast(F, wrapper)
