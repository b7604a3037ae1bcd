"""Forwarding to the services over pooled connections, with timeouts and clean headers."""

from __future__ import annotations

from collections.abc import Iterable

import urllib3
from flask import Response, g, request
from urllib3.exceptions import HTTPError, ReadTimeoutError
from uskalla_kit import Problem

#: RFC 9110 §7.6.1 hop-by-hop headers, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
#: Set by the gateway itself, never taken from the client.
OWN_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-internal-token",
        "x-csrf-token",
        "cookie",
    }
)
#: Answer headers the gateway sets itself (or that the body's re-framing makes wrong).
OWN_ANSWER_HEADERS = frozenset({"content-length", "x-request-id", "server", "date", "set-cookie"})


def forwardable(
    headers: Iterable[tuple[str, str]], extra_drop: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """Headers minus hop-by-hop ones, those named in Connection, and `extra_drop`."""
    headers = list(headers)
    named_in_connection = {
        h.strip().lower() for k, v in headers if k.lower() == "connection" for h in v.split(",")
    }
    drop = HOP_BY_HOP | named_in_connection | extra_drop
    return [(k, v) for k, v in headers if k.lower() not in drop]


def request_body() -> bytes:
    """The request's body, refusing (413) one over MAX_CONTENT_LENGTH, chunked ones included.

    Werkzeug checks a declared Content-Length itself, but silently cuts a chunked body at the
    limit; forwarding that would hand a service a truncated document.
    """
    if request.content_length is not None:
        return request.get_data(cache=False)
    if "wsgi.input_terminated" not in request.environ:
        return b""
    limit = request.max_content_length or 0
    raw: bytes = request.environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise Problem(413, "Content Too Large", f"The body is over {limit} bytes.")
    return raw


class Upstreams:
    """The services by name, reached over one pooled, timeout-bounded connection manager."""

    def __init__(
        self,
        services: dict[str, str],
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 32,
    ) -> None:
        self.services = services
        # One pool per service, built once (no URL parsing per request). block=False: a burst
        # beyond the pool opens extra connections instead of queueing (a queue would be a
        # hang); retries=False: a non-idempotent POST is never replayed.
        self.pools = {
            name: urllib3.connection_from_url(url, maxsize=pool_size, block=False, retries=False)
            for name, url in services.items()
        }
        self.prefixes = {
            name: urllib3.util.parse_url(url).path or "" for name, url in services.items()
        }
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: urllib3.Timeout | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """One call to `service`; a 502/504 problem when it is down or slow."""
        try:
            return self.pools[service].urlopen(
                method,
                self.prefixes[service] + path,
                body=body,
                headers=headers or {},
                timeout=timeout or self.timeout,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=False,
            )
        except ReadTimeoutError as exc:
            raise Problem(
                504, "Gateway Timeout", f"The {service} service did not answer in time."
            ) from exc
        except (HTTPError, OSError) as exc:
            raise Problem(502, "Bad Gateway", f"The {service} service is not reachable.") from exc

    def forward(self, service: str, authorization: str | None = None) -> Response:
        """Send the current request on to `service` and relay its answer."""
        headers = dict(forwardable(request.headers.items(), OWN_HEADERS))
        if authorization is not None:
            headers["Authorization"] = authorization
        headers["X-Request-ID"] = g.request_id
        headers["X-Forwarded-For"] = request.remote_addr or ""
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        path = request.full_path if request.query_string else request.path
        body = request_body() if request.method not in ("GET", "HEAD") else None
        upstream = self.request(service, request.method, path, body=body, headers=headers)
        response = Response(upstream.data, status=upstream.status)
        response.headers.clear()
        for key, value in forwardable(upstream.headers.items(), OWN_ANSWER_HEADERS):
            response.headers.add(key, value)
        return response
