"""Edge policies every answer gets: security headers, CORS, per-client rate limits, proxies."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from uskalla_kit.ratelimit import make_limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.config import Settings
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
CORS_EXPOSED = (
    "X-Request-ID, Retry-After, Location, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
)


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if behind_https():
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def init_cors(app: Flask, origins: tuple[str, ...]) -> None:
    """CORS on /api/ for the configured origins: bearer tokens only, never the cookie."""
    allowed = frozenset(origins)

    def allowed_origin() -> str | None:
        origin = request.headers.get("Origin", "").rstrip("/")
        if request.path.startswith("/api/") and origin in allowed:
            return origin
        return None

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


def init_edge(app: Flask, settings: Settings) -> Limiter:
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n
        )
    init_cors(app, settings.cors_origins)
    app.after_request(security_headers)
    app.config["RATELIMIT_ENABLED"] = settings.rate_limits  # the Settings object decides
    return make_limiter(app, settings.redis_url, key_func=client_key)
