"""Edge policies every answer gets: security headers, CORS, per-client rate limits, proxies.

The header policies are plain data and functions so that the Flask hooks here and the
fast path for API reads (fastpath.py) apply the very same ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from uskalla_kit import Problem
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.config import Settings
from gateway.ratelimit import ApiLimiter, Verdict
from gateway.session import behind_https

#: No inline scripts or styles anywhere: every script and stylesheet is a bundled file.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
CORS_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Authorization, Content-Type, Accept, X-Request-ID, Accept-Language"
CORS_EXPOSED = "X-Request-ID, Retry-After, Location, RateLimit-Limit, RateLimit-Remaining"


#: Set on every answer, replacing whatever a service sent.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
#: Set on every answer that does not bring its own.
DEFAULT_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in DEFAULT_HEADERS:
        headers.setdefault(name, value)
    for name, value in SECURITY_HEADERS:
        headers[name] = value
    if behind_https():
        headers[HSTS[0]] = HSTS[1]
    return response


def cors_origin(allowed: frozenset[str], origin: str, path: str) -> str | None:
    """The origin to grant CORS to: a configured one, and only on /api/."""
    origin = origin.rstrip("/")
    return origin if path.startswith("/api/") and origin in allowed else None


def init_cors(app: Flask, origins: tuple[str, ...]) -> None:
    """CORS on /api/ for the configured origins: bearer tokens only, never the cookie."""
    allowed = frozenset(origins)

    def allowed_origin() -> str | None:
        return cors_origin(allowed, request.headers.get("Origin", ""), request.path)

    @app.before_request
    def _preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        if not request.path.startswith("/api/"):
            return None
        response = Response(status=204)
        if allowed_origin() is not None:
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    @app.after_request
    def _cors(response: Response) -> Response:
        if request.path.startswith("/api/"):
            response.vary.add("Origin")
        origin = allowed_origin()
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
        return response


def client_key() -> str:
    """The client's address as seen after ProxyFix (a client cannot choose it by a header)."""
    return request.remote_addr or "unknown"


def init_edge(app: Flask, settings: Settings) -> ApiLimiter | None:
    """CORS and security headers on every answer; the API's limiter (None with limits off).

    ProxyFix, when proxies are trusted, is applied last (see build_app) so that it wraps
    everything, the fast path for API reads included.
    """
    init_cors(app, settings.cors_origins)
    app.after_request(security_headers)
    if not settings.rate_limits:
        return None
    limiter = ApiLimiter(settings.redis_url, settings.api_rate_limit)

    @app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        verdict = g.get("rate_limit")
        if verdict is not None and verdict.admitted:
            response.headers.extend(verdict.headers())
        return response

    return limiter


def trust_proxies(app: Flask, settings: Settings) -> None:
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n
        )


def rate_limited(
    limiter: ApiLimiter | None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view counts against the client's API budget (429 when it is spent)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        if limiter is None:  # limits off (benchmarks, load tests): not wrapped at all
            return view

        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            verdict = limiter.hit(client_key())
            if verdict is not None:
                g.rate_limit = verdict
                if not verdict.admitted:
                    raise too_many(limiter, verdict)
            return view(*args, **kwargs)

        return limited

    return decorate


def too_many(limiter: ApiLimiter, verdict: Verdict) -> Problem:
    return Problem(
        429,
        "Too Many Requests",
        f"Rate limit exceeded ({limiter.amount} per {limiter.window_ms // 1000} s). "
        "Try again later.",
        headers=dict(verdict.headers()),
    )
