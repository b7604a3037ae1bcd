"""Rate limits backed by Redis (flask-limiter), answered as 429 problems with Retry-After.

`RATE_LIMITS=off` switches every limit off, for load tests and benchmarks only.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, request
from flask_limiter import HeaderNames, Limiter, RateLimitExceeded
from uskalla_events.redis_tls import tls_options

from uskalla_kit.problems import Problem, problem_response
from uskalla_kit.settings import env


def client_address() -> str:
    """The client's address: the gateway's X-Forwarded-For (first hop) or the peer's."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[0].strip() or request.remote_addr or "unknown"


def make_limiter(
    app: Flask,
    redis_url: str,
    default_limits: list[str] | None = None,
    key_func: Callable[[], str] = client_address,
) -> Limiter:
    enabled = env("RATE_LIMITS", "on").lower() != "off"

    # Registered before the limiter's own hook, so it runs after it (Flask runs them in
    # reverse): flask-limiter puts Retry-After on every answer, which tells a client to wait
    # when nothing was refused. It belongs to a 429 (and a 503) only.
    @app.after_request
    def _retry_after_only_when_refused(response: Response) -> Response:
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        return response

    limiter = Limiter(
        key_func,
        app=app,
        storage_uri=redis_url,
        storage_options={
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
            **tls_options(redis_url),
        },
        default_limits=list(default_limits or []),
        enabled=enabled,
        headers_enabled=True,
        # The standard names (IETF RateLimit header fields), which the gateway's CORS exposes.
        header_name_mapping={
            HeaderNames.LIMIT: "RateLimit-Limit",
            HeaderNames.REMAINING: "RateLimit-Remaining",
            HeaderNames.RESET: "RateLimit-Reset",
        },
        strategy="moving-window",
        swallow_errors=True,  # if Redis is briefly away, serve rather than fail
        key_prefix="ratelimit",
    )

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded) -> Response:
        retry_after = exc.retry_after if hasattr(exc, "retry_after") else None
        response = problem_response(
            Problem(
                429,
                "Too Many Requests",
                f"Rate limit exceeded ({exc.description}). Try again later.",
            )
        )
        limit = limiter.current_limit
        if retry_after is None and limit is not None:
            import time

            retry_after = max(1, int(limit.reset_at - time.time()))
        response.headers["Retry-After"] = str(retry_after or 60)
        return response

    return limiter
