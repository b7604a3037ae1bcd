"""Forwarding to the services over pooled connections, with timeouts and clean headers."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from flask import Response, g, request
from uskalla_kit import Problem

from gateway.upstream import Answer, Pool, Timeout, UpstreamError, UpstreamTimeout

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
#: Characters left as they are when a decoded path or a raw query is percent-encoded again.
PATH_SAFE = "/:@!$&'()*+,;=~"
QUERY_SAFE = "/?:@!$&'()*+,;=~%"
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
    """The services by name, each reached over its own pool of kept-alive connections."""

    def __init__(
        self,
        services: dict[str, str],
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 32,
    ) -> None:
        self.services = services
        self.timeout = Timeout(connect=connect_timeout, read=read_timeout)
        # One pool per service, built once (no URL parsing per request). It never blocks: a
        # burst beyond the pool opens extra connections instead of queueing (a queue would be
        # a hang); nothing that may have reached a service is sent twice (see upstream.py).
        self.pools = {name: Pool(url, pool_size, self.timeout) for name, url in services.items()}

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        timeout: Timeout | None = None,
    ) -> Answer:
        """One call to `service`; a 502/504 problem when it is down or slow."""
        pairs = list(headers.items()) if isinstance(headers, dict) else headers or []
        try:
            return self.pools[service].request(method, path, pairs, body, timeout)
        except UpstreamTimeout as exc:
            raise Problem(
                504, "Gateway Timeout", f"The {service} service did not answer in time."
            ) from exc
        except UpstreamError as exc:
            raise Problem(502, "Bad Gateway", f"The {service} service is not reachable.") from exc

    def forward(self, service: str, authorization: str | None = None) -> Response:
        """Send the current request on to `service` and relay its answer."""
        headers = forwardable(request.headers.items(), OWN_HEADERS)
        if authorization is not None:
            headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
            headers.append(("Authorization", authorization))
        headers.append(("X-Request-ID", g.request_id))
        headers.append(("X-Forwarded-For", request.remote_addr or ""))
        headers.append(("X-Forwarded-Proto", request.scheme))
        headers.append(("X-Forwarded-Host", request.host))
        body = request_body() if request.method not in ("GET", "HEAD") else None
        answer = self.request(service, request.method, target(), body=body, headers=headers)
        relayed = forwardable(answer.headers, OWN_ANSWER_HEADERS)
        response = Response(answer.data, status=answer.status, headers=relayed)
        if answer.headers.get("Content-Type") is None:
            del response.headers["Content-Type"]  # werkzeug's default is not the service's
        return response


def target() -> str:
    """The request target to send on: the path the gateway routed on, percent-encoded again,
    and the query string as the client sent it (characters invalid in a URI encoded)."""
    path = quote(request.path, safe=PATH_SAFE)
    query = request.query_string
    return f"{path}?{quote(query, safe=QUERY_SAFE)}" if query else path
