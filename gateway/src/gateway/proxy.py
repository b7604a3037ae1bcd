"""Forwarding to the services over pooled connections, with timeouts and clean headers."""

from __future__ import annotations

from collections.abc import Iterable

import urllib3
from flask import Response, g, request
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
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
        "cookie",
    }
)


def forwardable(
    headers: Iterable[tuple[str, str]], extra_drop: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    named_in_connection = {
        h.strip().lower() for k, v in headers if k.lower() == "connection" for h in v.split(",")
    }
    drop = HOP_BY_HOP | named_in_connection | extra_drop
    return [(k, v) for k, v in headers if k.lower() not in drop]


class Upstreams:
    def __init__(
        self, services: dict[str, str], connect_timeout: float, read_timeout: float
    ) -> None:
        self.services = services
        self.pool = urllib3.PoolManager(num_pools=8, maxsize=32, block=False, retries=False)
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout | None = None,
    ) -> urllib3.BaseHTTPResponse:
        url = self.services[service] + path
        try:
            return self.pool.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=timeout or self.timeout,
                redirect=False,
                preload_content=True,
                decode_content=False,
            )
        except (ReadTimeoutError, TimeoutError) as exc:
            raise Problem(
                504, "Gateway Timeout", f"The {service} service did not answer in time."
            ) from exc
        except (NewConnectionError, MaxRetryError, ProtocolError, HTTPError, OSError) as exc:
            raise Problem(502, "Bad Gateway", f"The {service} service is not reachable.") from exc

    def forward(self, service: str) -> Response:
        """Send the current request on to `service` and relay its answer."""
        headers = dict(forwardable(list(request.headers.items()), OWN_HEADERS))
        headers["X-Request-ID"] = g.request_id
        headers["X-Forwarded-For"] = request.remote_addr or ""
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        path = request.full_path if request.query_string else request.path
        body = request.get_data(cache=False) if request.method not in ("GET", "HEAD") else None
        upstream = self.request(service, request.method, path, body=body, headers=headers)
        response = Response(upstream.data, status=upstream.status)
        response.headers.clear()
        dropped = frozenset({"content-length", "x-request-id", "server", "date"})
        for key, value in forwardable(list(upstream.headers.items()), dropped):
            response.headers.add(key, value)
        return response
