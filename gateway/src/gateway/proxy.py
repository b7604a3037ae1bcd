"""Forwarding to the services over pooled connections, with timeouts and clean headers."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pycurl
from flask import Response, current_app, g, request
from uskalla_kit import Problem
from werkzeug.datastructures import Headers

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
#: Characters a path may carry as they are (RFC 3986 pchar and "/"), and a whole target ("%"
#: of an existing escape, "?" and the query's own).
PATH_SAFE = "/:@!$&'()*+,;="
TARGET_SAFE = PATH_SAFE + "%?"
#: Headers libcurl would add on its own unless told not to.
CURL_OWN_HEADERS = ("Accept", "Content-Type", "Expect")
#: Answer headers the gateway sets itself (or that the body's re-framing makes wrong).
OWN_ANSWER_HEADERS = frozenset({"content-length", "x-request-id", "server", "date", "set-cookie"})


def _rewind(stream: io.BytesIO, offset: int, origin: int) -> int:
    stream.seek(offset, origin)
    return 0  # CURL_SEEKFUNC_OK


def raw_path() -> str:
    """The request's path as the client sent it, percent-encoded again for the wire.

    From the WSGI environ's bytes rather than the decoded `request.path`, so that bytes that
    are no UTF-8 reach the service as they came, and a "%" the client encoded stays encoded.
    """
    wsgi_path: str = request.environ.get("PATH_INFO", "")
    try:
        raw = wsgi_path.encode("latin-1")  # WSGI's str-of-bytes (PEP 3333)
    except UnicodeEncodeError:
        raw = wsgi_path.encode()
    return quote(raw, safe=PATH_SAFE)


def site_location(location: str, public_base_url: str) -> str:
    """A service's Location, fit to relay: one under the public address as it is; anything
    else (a service's own host name, another site) as the path and query it names on this site.
    A redirect from inside never sends a browser to an internal host or off the site."""
    if location.startswith(public_base_url + "/"):
        return location
    parts = urlsplit(location)
    path = "/" + parts.path.lstrip("/\\")
    return (
        path
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def _split(raw: bytes) -> tuple[Headers, bytes]:
    """The final answer's headers (after any 1xx answers' blocks) and its body."""
    while True:
        head, _, rest = raw.partition(b"\r\n\r\n")
        informational = head.split(b" ", 2)[1:2] in ([b"100"], [b"102"], [b"103"])
        if informational and rest.startswith(b"HTTP/"):
            raw = rest  # a 1xx answer's block (100 Continue, 103 Early Hints): the answer follows
            continue
        break
    headers = Headers()
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.add(name.strip(), value.strip())
    return headers, rest


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


@dataclass(frozen=True)
class Timeout:
    """How long a call may take: to connect, and for the whole answer once connected."""

    connect: float
    read: float


@dataclass(frozen=True)
class UpstreamAnswer:
    """What a service sent back: its status, headers and whole body."""

    status: int
    headers: Headers
    data: bytes


class Upstreams:
    """The services by name, reached over kept-alive connections with bounded timeouts.

    libcurl (pycurl) does the HTTP, for about a third of the CPU that urllib3 spent on it, and a
    quarter less for the whole proxied request (docs/benchmarks.md). A curl handle, and with it
    its kept-alive connections, serves one call at a time; idle handles wait on a stack, and a
    call takes the one used last. So calls go over as few connections as the load needs, the
    same ones while it is light, and a service answers them warm: spread over a connection per
    gateway thread, the service's own CPU per request rose by a quarter (docs/benchmarks.md).
    """

    def __init__(
        self,
        services: dict[str, str],
        connect_timeout: float,
        read_timeout: float,
        pool_size: int = 32,
    ) -> None:
        self.services = services
        self.bases = {name: url.rstrip("/") for name, url in services.items()}
        self.timeout = Timeout(connect=connect_timeout, read=read_timeout)
        self.pool_size = pool_size
        self._idle: list[pycurl.Curl] = []  # a stack: the last one used on top
        self._pid = os.getpid()

    def _handle(self) -> pycurl.Curl:
        if self._pid != os.getpid():  # a forked worker: its parent's connections are not its own
            self._idle, self._pid = [], os.getpid()
        try:
            handle = self._idle.pop()  # atomic; the handle is this thread's until given back
        except IndexError:
            handle = pycurl.Curl()
        else:
            handle.reset()  # options back to defaults; kept-alive connections stay
        handle.setopt(pycurl.MAXCONNECTS, self.pool_size)
        handle.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: safe in threads
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.PROXY, "")  # services are reached directly, whatever the env says
        handle.setopt(pycurl.PATH_AS_IS, 1)  # the path goes out as given: no dot segment removed
        return handle

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: Timeout | None = None,
    ) -> UpstreamAnswer:
        """One call to `service`, never retried nor redirected; a 502/504 problem when it is
        down or does not answer in time."""
        curl = self._handle()
        try:
            return self._perform(
                curl, service, method, path, body=body, headers=headers, timeout=timeout
            )
        finally:
            self._idle.append(curl)

    def _perform(
        self,
        curl: pycurl.Curl,
        service: str,
        method: str,
        path: str,
        *,
        body: bytes | None,
        headers: dict[str, str] | None,
        timeout: Timeout | None,
    ) -> UpstreamAnswer:
        timeout = timeout or self.timeout
        given = {name.lower() for name in headers or {}}
        # As urllib3 did: what is not allowed in a request target is percent-encoded (UTF-8),
        # while what is already encoded stays as it is.
        curl.setopt(pycurl.URL, self.bases[service] + quote(path, safe=TARGET_SAFE))
        curl.setopt(
            pycurl.HTTPHEADER,
            # "Name;" is curl's way to send an empty header, "Name:" to send none: only what
            # the caller gave goes out, none of curl's own choosing.
            [f"{k}: {v}" if v else f"{k};" for k, v in (headers or {}).items()]
            + [f"{own}:" for own in CURL_OWN_HEADERS if own.lower() not in given],
        )
        if method == "HEAD":
            curl.setopt(pycurl.NOBODY, 1)
        elif method != "GET" and (body is not None or method in ("POST", "PUT", "PATCH")):
            curl.setopt(pycurl.POST, 1)
            curl.setopt(pycurl.POSTFIELDSIZE, len(body or b""))
            stream = io.BytesIO(body or b"")  # any bytes, NUL too
            curl.setopt(pycurl.READDATA, stream)
            # Rewindable: when a kept-alive connection turns out closed before any answer,
            # libcurl sends the request again on a new one, and must read the body again.
            curl.setopt(pycurl.SEEKFUNCTION, lambda offset, origin: _rewind(stream, offset, origin))
        if method not in ("GET", "HEAD", "POST"):
            curl.setopt(pycurl.CUSTOMREQUEST, method)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, round(timeout.connect * 1000)))
        # The whole answer within the read timeout: a service that trickles it out slowly
        # cannot hold a gateway thread any longer than one that does not answer at all.
        curl.setopt(pycurl.TIMEOUT_MS, max(1, round(timeout.read * 1000)))
        received = io.BytesIO()
        # Headers and body through one sink: a call into Python per chunk, not per line.
        curl.setopt(pycurl.HEADER, 1)
        curl.setopt(pycurl.WRITEFUNCTION, received.write)
        try:
            curl.perform()
        except pycurl.error as exc:
            connected = curl.getinfo(pycurl.CONNECT_TIME) > 0
            if exc.args[0] == pycurl.E_OPERATION_TIMEDOUT and connected:
                raise Problem(
                    504, "Gateway Timeout", f"The {service} service did not answer in time."
                ) from exc
            raise Problem(502, "Bad Gateway", f"The {service} service is not reachable.") from exc
        answer_headers, body = _split(received.getvalue())
        return UpstreamAnswer(curl.getinfo(pycurl.RESPONSE_CODE), answer_headers, body)

    def forward(self, service: str, authorization: str | None = None) -> Response:
        """Send the current request on to `service` and relay its answer."""
        headers = dict(forwardable(request.headers.items(), OWN_HEADERS))
        if authorization is not None:
            headers["Authorization"] = authorization
        headers["X-Request-ID"] = g.request_id
        headers["X-Forwarded-For"] = request.remote_addr or ""
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        path = raw_path()
        if request.query_string:
            path += "?" + request.query_string.decode("latin-1")
        body = request_body() if request.method not in ("GET", "HEAD") else None
        upstream = self.request(service, request.method, path, body=body, headers=headers)
        response = Response(upstream.data, status=upstream.status)
        response.headers.clear()
        public = current_app.extensions["gateway.settings"].public_base_url
        for key, value in forwardable(upstream.headers.items(), OWN_ANSWER_HEADERS):
            response.headers.add(
                key, site_location(value, public) if key.lower() == "location" else value
            )
        return response
