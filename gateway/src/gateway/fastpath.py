"""API reads forwarded without Flask's per-request machinery, with the same edge checks.

Most of the gateway's traffic is anonymous or bearer-token GETs of public API paths, and for
those Flask's request context, routing, a dozen hooks and its response object cost more CPU
than forwarding the request itself (bench/bench_gateway.py). This WSGI layer forwards them
directly, applying the same policies from the same code: request id, bearer token
verification, the API rate limit, the hop-by-hop and private header rules, CORS, security
headers, 502/504 problems and the request metrics.

Anything else goes to Flask unchanged: other methods (bodies, CSRF), the session cookie
(verification, clearing a dead one), a bearer token that fails verification (Flask answers
the 401), the gateway's own API paths, and targets that need Flask's checks (percent-escapes
or unusual characters in the query, double slashes, non-ASCII paths, over-long targets).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from flask import json
from uskalla_events.context import correlation_id
from uskalla_kit import Problem
from uskalla_kit.auth import TokenVerifier
from uskalla_kit.health import LATENCY, REQUESTS
from uskalla_kit.problems import MAX_TARGET, PROBLEM_JSON
from uskalla_kit.requestid import SANE
from werkzeug.http import HTTP_STATUS_CODES

from gateway.config import Settings
from gateway.edge import (
    CORS_EXPOSED,
    DEFAULT_HEADERS,
    HSTS,
    SECURITY_HEADERS,
    cors_origin,
    too_many,
)
from gateway.proxy import HOP_BY_HOP, OWN_ANSWER_HEADERS, OWN_HEADERS, Upstreams, forwardable
from gateway.ratelimit import ApiLimiter
from gateway.routes import service_for
from gateway.session import SESSION_COOKIE

__all__ = ["GATEWAY_OWN_PATHS", "ApiReads"]

log = logging.getLogger(__name__)
StartResponse = Callable[..., Any]

#: Answered by the gateway itself (Flask views), never forwarded.
GATEWAY_OWN_PATHS = frozenset({"/api/v1/members/me/export", "/api/v1/openapi.json"})
#: The Flask rule the forwarded calls are counted under, so both paths share one series.
ENDPOINT = "/api/v1/<path:rest>"
PLAIN_PATH = re.compile(r"^/api/v1/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$")
PLAIN_QUERY = re.compile(r"^[A-Za-z0-9._~!$'()*+,;=:@/&-]*$")  # no %-escapes: nothing to decode
DROP = HOP_BY_HOP | OWN_HEADERS
_DEFAULT_NAMES = tuple(name.lower() for name, _ in DEFAULT_HEADERS)
_REPLACED_NAMES = frozenset(name.lower() for name, _ in SECURITY_HEADERS)


class ApiReads:
    """WSGI middleware in front of the Flask app: GET/HEAD of forwarded API paths."""

    def __init__(
        self,
        flask_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        upstreams: Upstreams,
        settings: Settings,
        verifier: TokenVerifier,
        limiter: ApiLimiter | None,
    ) -> None:
        self.flask_app = flask_app
        self.upstreams = upstreams
        self.verifier = verifier
        self.limiter = limiter
        self.cors = frozenset(settings.cors_origins)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        service = self._service(environ)
        if service is None:
            return self.flask_app(environ, start_response)
        authorization = environ.get("HTTP_AUTHORIZATION")
        if authorization is not None and not self._token_ok(authorization):
            return self.flask_app(environ, start_response)  # Flask answers the 401
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if SANE.match(given) else str(uuid.uuid4())
        token = correlation_id.set(request_id)
        try:
            status, headers, body = self._answer(environ, service, request_id)
        except Exception:  # as Flask's handler does: logged, and a 500 problem
            log.exception("unhandled error")
            status, headers, body = _problem(
                Problem(500, "Internal Server Error", "Something went wrong; it has been logged.")
            )
        finally:
            correlation_id.reset(token)
        self._finish(environ, headers, request_id)
        method = environ["REQUEST_METHOD"]
        REQUESTS.labels("gateway", method, ENDPOINT, str(status)).inc()
        LATENCY.labels("gateway", ENDPOINT).observe(time.perf_counter() - started)
        start_response(f"{status} {_reason(status)}", headers)
        return [] if method == "HEAD" else [body]

    def _service(self, environ: dict[str, Any]) -> str | None:
        """The service for a plain API read this layer may forward, else None (Flask's)."""
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return None
        path: str = environ.get("PATH_INFO", "")
        query: str = environ.get("QUERY_STRING", "")
        if (
            not PLAIN_PATH.match(path)
            or "//" in path
            or path in GATEWAY_OWN_PATHS
            or len(path) + len(query) + 1 > MAX_TARGET
            or (query and not PLAIN_QUERY.match(query))
            or SESSION_COOKIE in environ.get("HTTP_COOKIE", "")
        ):
            return None
        return service_for(path)

    def _token_ok(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return True  # not a bearer token: passed on as it is, as Flask does
        try:
            self.verifier.verify(token.strip())
        except jwt.InvalidTokenError:
            return False
        return True

    def _answer(
        self, environ: dict[str, Any], service: str, request_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        limit_headers: list[tuple[str, str]] = []
        try:
            if self.limiter is not None:
                verdict = self.limiter.hit(environ.get("REMOTE_ADDR") or "unknown")
                if verdict is not None:
                    if not verdict.admitted:
                        raise too_many(self.limiter, verdict)
                    limit_headers = verdict.headers()
            path = environ["PATH_INFO"]
            query = environ.get("QUERY_STRING", "")
            answer = self.upstreams.request(
                service,
                environ["REQUEST_METHOD"],
                f"{path}?{query}" if query else path,
                headers=self._headers_to_send(environ, request_id),
            )
        except Problem as problem:
            return _problem(problem)
        headers = forwardable(answer.headers, OWN_ANSWER_HEADERS)
        status = answer.status
        if status not in (204, 304) and status >= 200:
            headers.append(("Content-Length", str(len(answer.data))))
        headers.extend(limit_headers)
        return status, headers, answer.data

    @staticmethod
    def _headers_to_send(environ: dict[str, Any], request_id: str) -> list[tuple[str, str]]:
        """The client's headers as werkzeug reads them, minus hop-by-hop and private ones,
        plus the request id and X-Forwarded-* set by the gateway (never the client's)."""
        given: list[tuple[str, str]] = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                given.append((key[5:].replace("_", "-").title(), value))
        if environ.get("CONTENT_TYPE"):
            given.append(("Content-Type", environ["CONTENT_TYPE"]))
        named = {h.strip().lower() for k, v in given if k == "Connection" for h in v.split(",")}
        headers = [(k, v) for k, v in given if k.lower() not in DROP and k.lower() not in named]
        scheme = environ.get("wsgi.url_scheme", "http")
        headers.append(("X-Request-ID", request_id))
        headers.append(("X-Forwarded-For", environ.get("REMOTE_ADDR") or ""))
        headers.append(("X-Forwarded-Proto", scheme))
        headers.append(("X-Forwarded-Host", _host(environ, scheme)))
        return headers

    def _finish(
        self, environ: dict[str, Any], headers: list[tuple[str, str]], request_id: str
    ) -> None:
        """What the Flask hooks add to every answer, added here in the same way."""
        https = environ.get("wsgi.url_scheme") == "https" or _forwarded_https(environ)
        replaced = _REPLACED_NAMES | {"strict-transport-security"} if https else _REPLACED_NAMES
        present = {name.lower() for name, _ in headers}
        if present & replaced or "vary" in present:
            headers[:] = [(k, v) for k, v in headers if k.lower() not in replaced]
            vary = _vary_with_origin(headers)
        else:
            vary = "Origin"
        for (name, value), lower in zip(DEFAULT_HEADERS, _DEFAULT_NAMES, strict=True):
            if lower not in present:
                headers.append((name, value))
        headers.extend(SECURITY_HEADERS)
        if https:
            headers.append(HSTS)
        if vary:
            headers.append(("Vary", vary))
        origin = cors_origin(self.cors, environ.get("HTTP_ORIGIN", ""), environ["PATH_INFO"])
        if origin is not None:
            headers.append(("Access-Control-Allow-Origin", origin))
            headers.append(("Access-Control-Expose-Headers", CORS_EXPOSED))
        headers.append(("X-Request-ID", request_id))


def _vary_with_origin(headers: list[tuple[str, str]]) -> str | None:
    """The service's Vary (taken out of `headers`) with Origin added, as werkzeug's
    `response.vary.add` does; None when nothing needs to change."""
    given = next((v for k, v in headers if k.lower() == "vary"), None)
    if given is None:
        return "Origin"
    tokens = [t.strip() for t in given.split(",") if t.strip()]
    if any(t.lower() in ("origin", "*") for t in tokens):
        return None
    headers[:] = [(k, v) for k, v in headers if k.lower() != "vary"]
    return ", ".join([*tokens, "Origin"])


def _problem(problem: Problem) -> tuple[int, list[tuple[str, str]], bytes]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extra,
    }
    data = json.dumps(body).encode()
    headers = [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(data)))]
    headers.extend(problem.headers.items())
    return problem.status, headers, data


def _host(environ: dict[str, Any], scheme: str) -> str:
    """The Host as werkzeug's request.host gives it."""
    host = environ.get("HTTP_HOST")
    if host:
        return str(host)
    name, port = environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", "")
    default = "443" if scheme == "https" else "80"
    return f"{name}:{port}" if port and port != default else str(name)


def _forwarded_https(environ: dict[str, Any]) -> bool:
    forwarded: str = environ.get("HTTP_X_FORWARDED_PROTO", "")
    return forwarded.split(",", maxsplit=1)[0].strip().lower() == "https"


def _reason(status: int) -> str:
    return HTTP_STATUS_CODES.get(status, "Unknown").upper()  # as werkzeug words it
