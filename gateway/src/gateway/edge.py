"""Edge policies every answer gets: clean paths only, security headers, CORS, per-client rate
limits, proxies."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from limits import parse
from uskalla_kit import Problem
from uskalla_kit.ratelimit import make_limiter

from gateway.config import Settings
from gateway.session import secure_site

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
    if secure_site():
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


#: A scheme and authority before the path (an absolute-form request target).
ABSOLUTE_FORM = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


def normal_path(target: str, *, encoded: bool = True) -> bool:
    """Whether a request target's path is in normal form: no dot segments, no empty segments,
    no backslash, and (read as the client sent it, `encoded`) none of those percent-encoded
    either, nor an encoded slash. Anything else could name one path to us and another to a
    service (libcurl, or the service's own server, would resolve it)."""
    path = ABSOLUTE_FORM.sub("", target).split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") or "//" in path or "\\" in path:
        return False
    if encoded:
        path = path.lower()
        if "%2f" in path or "%5c" in path:
            return False
        path = path.replace("%2e", ".")
    return not {".", ".."} & set(path.split("/"))


def refuse_unclean_paths() -> None:
    """before_request, first of all: 400 for a target that is not a normalised path, as the
    client sent it (gunicorn's RAW_URI) and as decoded."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or "/"
    if not (normal_path(raw) and normal_path(request.path, encoded=False)):
        raise Problem(
            400,
            "Bad Request",
            "The path is not in normal form: no dot segments, empty segments, backslashes "
            "or encoded slashes.",
        )


class TrustedProxies:
    """WSGI middleware: the client's address (and scheme, host) from `X-Forwarded-*` only when
    the peer is one of the trusted proxies; the first address, from the right, that is not a
    trusted proxy is the client's. A client's own `X-Forwarded-For` is never believed."""

    def __init__(self, app: Any, networks: Iterable[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        client = environ.get("REMOTE_ADDR", "")
        if self.trusted(client):
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            hops = [h for h in hops if h]
            while hops and self.trusted(client):
                client = hops.pop()
            environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[-1].strip()
            if host:
                environ["HTTP_HOST"] = host
        return self.app(environ, start_response)


def client_key() -> str:
    """The client's address: the peer's, or the one trusted proxies vouch for (never a
    client's own header)."""
    return request.remote_addr or "unknown"


def init_edge(app: Flask, settings: Settings) -> Limiter:
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unclean_paths)
    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
            app.wsgi_app, settings.trusted_proxies
        )
    init_cors(app, settings.cors_origins)
    app.after_request(security_headers)
    app.config["RATELIMIT_ENABLED"] = settings.rate_limits  # the Settings object decides
    limiter = make_limiter(app, settings.redis_url, key_func=client_key)
    if settings.rate_limits:
        init_form_limit(app, limiter, settings.ui_post_rate_limit)
    return limiter


def init_form_limit(app: Flask, limiter: Limiter, limit: str) -> None:
    """Every form post of the UI (join, sign-in, comments, ...) counts against one budget per
    client, besides the services' own finer limits; refused with a 429 page."""
    item = parse(limit)

    @app.before_request
    def _form_posts() -> None:
        if request.method != "POST" or not (request.blueprint or "").startswith("ui_"):
            return
        try:
            allowed = limiter.limiter.hit(item, "ui-post", client_key())
        except Exception:  # as the other limits: if Redis is briefly away, serve
            return
        if not allowed:
            reset = limiter.limiter.get_window_stats(item, "ui-post", client_key()).reset_time
            raise Problem(
                429,
                "Too Many Requests",
                f"Rate limit exceeded ({limit}). Try again later.",
                headers={"Retry-After": str(max(1, int(reset - time.time())))},
            )
