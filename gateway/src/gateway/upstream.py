"""A small HTTP/1.1 client for the gateway's hop to its own services, with pooled connections.

Why not urllib3: on this hop the gateway's own CPU per request is what limits its throughput
next to the service it fronts (bench/bench_gateway.py), and urllib3 over http.client spends
several times more CPU per request than the socket work needs (the email package parses every
answer's headers; response objects are layered). This speaks what the hop needs and no more:
a request with its whole body; the answer framed by Content-Length, chunked transfer coding
or the closing of the connection (RFC 9112 §6.3); interim 1xx answers skipped; keep-alive.

Nothing is retried once it may have reached the service, with one exception HTTP allows
(RFC 9110 §9.2.2): a GET, HEAD or OPTIONS sent on a reused idle connection that the service
closed before answering a single byte is sent once more, on a new connection.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import weakref
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["Answer", "Headers", "Pool", "Timeout", "UpstreamError", "UpstreamTimeout"]

MAX_HEAD = 64 * 1024  # status line and headers of one answer
MAX_LINE = 4096  # one chunk-size or trailer line
RECV = 65536
RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_EXPECTED = frozenset({"POST", "PUT", "PATCH"})
#: How a kept-alive connection the service has just closed shows when a request goes out.
RESET = (ConnectionResetError, BrokenPipeError)


class Timeout(NamedTuple):
    connect: float
    read: float


class UpstreamError(Exception):
    """The service could not be reached, hung up, or answered something that is not HTTP."""


class UpstreamTimeout(UpstreamError):
    """The service did not answer (or stopped answering) within the read timeout."""


class _Closed(UpstreamError):
    """The connection ended; `before_answer` if not a byte of the answer had come."""

    def __init__(self, before_answer: bool) -> None:
        super().__init__("the service closed the connection")
        self.before_answer = before_answer


class Headers:
    """An answer's headers in order, duplicates kept; names compared case-insensitively."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self._pairs:
            if key.lower() == name:
                return value
        return default

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


class Answer(NamedTuple):
    status: int
    headers: Headers
    data: bytes


class _Connection:
    __slots__ = ("buffer", "read_timeout", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.read_timeout: float | None = None

    def idle_and_open(self) -> bool:
        """A kept-alive connection is reusable while nothing at all is readable on it: the
        service closing it reads as end of file, and stray bytes would corrupt the next answer.
        """
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return False
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _fill(self, before_answer: bool = False) -> None:
        chunk = self.sock.recv(RECV)
        if not chunk:
            raise _Closed(before_answer)
        self.buffer += chunk

    def read_head(self) -> tuple[int, bytes, list[tuple[str, str]]]:
        """One status line and its header lines: (status, HTTP version, headers)."""
        buffer = self.buffer
        first = True
        while True:
            end = _head_end(buffer)
            if end >= 0:
                break
            if len(buffer) > MAX_HEAD:
                raise UpstreamError("the service's answer has an oversized header")
            self._fill(before_answer=first and not buffer)
            first = False
        head = bytes(buffer[:end])
        del buffer[:end]
        return _parse_head(head)

    def read_exactly(self, size: int) -> bytes:
        buffer = self.buffer
        while len(buffer) < size:
            self._fill()
        body = bytes(buffer[:size])
        del buffer[:size]
        return body

    def read_line(self) -> bytes:
        buffer = self.buffer
        while True:
            end = buffer.find(b"\n")
            if end >= 0:
                line = bytes(buffer[: end + 1])
                del buffer[: end + 1]
                return line.rstrip(b"\r\n")
            if len(buffer) > MAX_LINE:
                raise UpstreamError("the service's chunked answer has an oversized line")
            self._fill()

    def read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_text = self.read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise UpstreamError("the service's chunked answer is malformed") from None
            if size < 0 or not size_text.isalnum():
                raise UpstreamError("the service's chunked answer is malformed")
            if size == 0:
                while self.read_line():  # trailer fields are not passed on
                    pass
                return b"".join(parts)
            parts.append(self.read_exactly(size))
            if self.read_line():
                raise UpstreamError("the service's chunked answer is malformed")

    def read_to_close(self) -> bytes:
        while True:
            try:
                self._fill()
            except _Closed:
                body = bytes(self.buffer)
                self.buffer.clear()
                return body


def _close_all(connections: list[_Connection]) -> None:
    while connections:
        connections.pop().close()


def _head_end(buffer: bytearray) -> int:
    """Where the header section ends (just past its blank line), or -1. Bare LF is accepted."""
    crlf = buffer.find(b"\n\r\n")
    lf = buffer.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 3
    return lf + 2 if lf >= 0 else -1


def _parse_head(head: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
    lines = head.split(b"\n")
    version, _, rest = lines[0].rstrip(b"\r").partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise UpstreamError("the service's answer is not HTTP/1.x")
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line: bytes = raw.rstrip(b"\r")
        if not line:
            continue
        if line[0] in b" \t":  # obsolete line folding: one space instead (RFC 9112 §5.2)
            if not headers:
                raise UpstreamError("the service's answer has a malformed header")
            folded_name, folded_value = headers[-1]
            headers[-1] = (folded_name, f"{folded_value} {line.strip().decode('latin-1')}")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            raise UpstreamError("the service's answer has a malformed header")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return int(code), version, headers


def _framing(headers: list[tuple[str, str]]) -> tuple[str | None, int | None, bool]:
    """(transfer codings, content length, connection: close) from an answer's headers."""
    codings: str | None = None
    length: int | None = None
    close = False
    for name, value in headers:
        key = name.lower()
        if key == "transfer-encoding":
            codings = f"{codings}, {value}" if codings else value
        elif key == "content-length":
            for item in value.split(","):
                digits = item.strip()
                if not digits.isdigit() or (length is not None and int(digits) != length):
                    raise UpstreamError("the service's answer has an invalid Content-Length")
                length = int(digits)
        elif key == "connection":
            close = close or "close" in (t.strip().lower() for t in value.split(","))
    return codings, length, close


class Pool:
    """Kept-alive connections to one service. Never blocks: a burst beyond `maxsize` opens
    extra connections (a queue would be a hang) and only `maxsize` stay for reuse."""

    def __init__(self, url: str, maxsize: int, timeout: Timeout) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        default_port = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if self.port == default_port else f"{host}:{self.port}"
        self.prefix = parts.path.rstrip("/")
        self.maxsize = maxsize
        self.timeout = timeout
        self._idle: list[_Connection] = []  # list.pop/append are atomic: no lock needed
        self._tls_context = ssl.create_default_context() if self.tls else None
        # An app (and its pools) that is dropped closes its sockets rather than leaking them.
        self.close = weakref.finalize(self, _close_all, self._idle)

    def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | None = None,
        timeout: Timeout | None = None,
    ) -> Answer:
        """Send one request; UpstreamError if the service cannot be reached or answer,
        UpstreamTimeout if it does not answer within the read timeout."""
        timeout = timeout or self.timeout
        if body is None and method in BODY_EXPECTED:
            body = b""
        message = self._message(method, target, headers, body)
        conn = self._reuse()
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._connect(timeout)
            try:
                answer, keep = self._exchange(conn, method, message, timeout.read)
            except _Closed as closed:
                conn.close()
                if reused and closed.before_answer and method in RETRYABLE:
                    conn, reused = None, False  # a stale kept-alive connection: once more
                    continue
                raise
            except TimeoutError as exc:
                conn.close()
                raise UpstreamTimeout("the service did not answer in time") from exc
            except (OSError, UpstreamError) as exc:
                conn.close()
                if reused and method in RETRYABLE and isinstance(exc, RESET):
                    conn, reused = None, False  # reset as the request went out: once more
                    continue
                if isinstance(exc, UpstreamError):
                    raise
                raise UpstreamError(f"the connection to the service failed: {exc}") from exc
            if keep and len(self._idle) < self.maxsize:
                self._idle.append(conn)
            else:
                conn.close()
            return answer

    def _message(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> bytes:
        lines = [f"{method} {self.prefix}{target} HTTP/1.1", f"Host: {self.host_header}"]
        for name, value in headers:
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        for line in lines:  # no request smuggling through a line break in a value
            if "\n" in line or "\r" in line:
                raise ValueError(f"a line break in a request line or header: {line[:40]!r}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + body if body else head

    def _reuse(self) -> _Connection | None:
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                return None
            if conn.idle_and_open():
                return conn
            conn.close()

    def _connect(self, timeout: Timeout) -> _Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout.connect)
        except OSError as exc:  # refused, unreachable, or the connect timeout
            raise UpstreamError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls_context is not None:
                sock = self._tls_context.wrap_socket(sock, server_hostname=self.host)
        except OSError as exc:
            sock.close()
            raise UpstreamError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return _Connection(sock)

    @staticmethod
    def _exchange(
        conn: _Connection, method: str, message: bytes, read_timeout: float
    ) -> tuple[Answer, bool]:
        if conn.read_timeout != read_timeout:
            conn.sock.settimeout(read_timeout)
            conn.read_timeout = read_timeout
        conn.sock.sendall(message)
        while True:
            status, version, headers = conn.read_head()
            if status >= 200:
                break
            if status == 101:  # the gateway never asks to switch protocols
                raise UpstreamError("the service switched protocols unasked")
        codings, length, close = _framing(headers)
        keep = version == b"HTTP/1.1" and not close
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif codings is not None:
            if codings.rsplit(",", 1)[-1].strip().lower() == "chunked":
                body = conn.read_chunked()
            else:
                body, keep = conn.read_to_close(), False
        elif length is not None:
            body = conn.read_exactly(length)
        else:
            body, keep = conn.read_to_close(), False
        if conn.buffer:  # bytes past the answer: the connection's framing cannot be trusted
            keep = False
        return Answer(status, Headers(headers), body), keep
