"""The gateway's HTTP/1.1 client (gateway.upstream) against a scripted raw TCP server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from gateway.upstream import Pool, Timeout, UpstreamError, UpstreamTimeout

Script = Callable[[socket.socket, bytes], bool]  # (connection, request) -> keep serving?


class ScriptedServer:
    """Answers each request it reads with the next scripted reply; counts connections."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.replies: list[bytes | Script] = []
        self.requests: list[bytes] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                reply = self.replies.pop(0)
                if callable(reply):
                    if not reply(conn, self.requests[-1]):
                        return
                else:
                    conn.sendall(reply)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    started = ScriptedServer()
    yield started
    started.close()


def pool_for(server: ScriptedServer, read: float = 2.0) -> Pool:
    return Pool(f"http://127.0.0.1:{server.port}", 4, Timeout(connect=1.0, read=read))


def ok(body: bytes = b"hello", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def test_keeps_the_connection_alive_and_sends_a_clean_request(server: ScriptedServer) -> None:
    server.replies = [ok(b"one", b"Content-Type: text/plain\r\n"), ok(b"two")]
    pool = pool_for(server)
    first = pool.request("GET", "/a?x=1", [("Accept", "application/json")])
    second = pool.request("POST", "/b", [], b'{"n": 1}')
    assert (first.status, first.data, second.data) == (200, b"one", b"two")
    assert first.headers.get("content-type") == "text/plain"
    assert server.connections == 1
    assert server.requests[0] == (
        f"GET /a?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Accept: application/json\r\n\r\n".encode()
    )
    assert b"Content-Length: 8\r\n" in server.requests[1]
    assert server.requests[1].endswith(b'{"n": 1}')


def test_a_post_without_a_body_says_content_length_zero(server: ScriptedServer) -> None:
    server.replies = [ok()]
    pool_for(server).request("POST", "/x", [])
    assert b"Content-Length: 0\r\n" in server.requests[0]


def test_chunked_answers_are_decoded(server: ScriptedServer) -> None:
    server.replies = [
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
        ok(b"next"),
    ]
    pool = pool_for(server)
    answer = pool.request("GET", "/", [])
    assert (answer.status, answer.data) == (201, b"hello, world")
    assert pool.request("GET", "/", []).data == b"next"
    assert server.connections == 1  # the chunked answer left the connection reusable


def test_an_answer_without_framing_ends_with_the_connection(server: ScriptedServer) -> None:
    def close_delimited(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        return False

    server.replies = [close_delimited, ok(b"fresh")]
    pool = pool_for(server)
    assert pool.request("GET", "/", []).data == b"all of it"
    assert pool.request("GET", "/", []).data == b"fresh"
    assert server.connections == 2


def test_interim_answers_are_skipped_and_bodiless_answers_have_no_body(
    server: ScriptedServer,
) -> None:
    server.replies = [
        b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after continue"),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",  # HEAD: the length, no body
        ok(b"still in step"),
    ]
    pool = pool_for(server)
    assert pool.request("POST", "/", [], b"x").data == b"after continue"
    assert pool.request("DELETE", "/", []).status == 204
    head = pool.request("HEAD", "/", [])
    assert (head.status, head.data, head.headers.get("Content-Length")) == (200, b"", "99")
    assert pool.request("GET", "/", []).data == b"still in step"
    assert server.connections == 1


def test_headers_keep_order_and_duplicates_and_unfold(server: ScriptedServer) -> None:
    server.replies = [
        b"HTTP/1.1 200 OK\r\nLink: <a>\r\nX-Long: one\r\n  two\r\nLink: <b>\r\n"
        b"Content-Length: 0\r\n\r\n"
    ]
    answer = pool_for(server).request("GET", "/", [])
    assert answer.headers.items() == [
        ("Link", "<a>"),
        ("X-Long", "one two"),
        ("Link", "<b>"),
        ("Content-Length", "0"),
    ]


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_an_answer_that_is_not_sound_http_is_an_error(server: ScriptedServer, reply: bytes) -> None:
    server.replies = [reply]
    with pytest.raises(UpstreamError) as caught:
        pool_for(server).request("GET", "/", [])
    assert not isinstance(caught.value, UpstreamTimeout)


def test_a_connection_cut_mid_answer_is_an_error(server: ScriptedServer) -> None:
    def cut(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        return False

    server.replies = [cut]
    with pytest.raises(UpstreamError):
        pool_for(server).request("GET", "/", [])


def test_a_service_that_does_not_answer_in_time_is_a_timeout(server: ScriptedServer) -> None:
    hold = threading.Event()

    def silent(conn: socket.socket, _: bytes) -> bool:
        hold.wait(5)
        return False

    server.replies = [silent]
    with pytest.raises(UpstreamTimeout):
        pool_for(server, read=0.2).request("GET", "/", [])
    hold.set()


def test_nothing_listening_is_an_error_not_a_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    pool = Pool(f"http://127.0.0.1:{port}", 4, Timeout(connect=1.0, read=1.0))
    with pytest.raises(UpstreamError) as caught:
        pool.request("GET", "/", [])
    assert not isinstance(caught.value, UpstreamTimeout)


def test_a_closed_idle_connection_is_not_reused(server: ScriptedServer) -> None:
    def answer_then_close(conn: socket.socket, _: bytes) -> bool:
        conn.sendall(ok(b"first"))
        return False  # the server closes its end of a kept-alive connection

    server.replies = [answer_then_close, ok(b"second")]
    pool = pool_for(server)
    assert pool.request("GET", "/", []).data == b"first"
    for _ in range(100):  # until the close has reached this side
        if not pool._idle[0].idle_and_open():
            break
        threading.Event().wait(0.01)
    assert pool.request("POST", "/", [], b"x").data == b"second"
    assert server.connections == 2
    assert len(server.requests) == 2  # the POST went out once, on a new connection


def test_a_get_on_a_stale_connection_is_sent_once_more_but_a_post_is_not(
    server: ScriptedServer,
) -> None:
    def drop(conn: socket.socket, _: bytes) -> bool:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        return False  # read the request, then reset without a byte of answer

    server.replies = [ok(b"warm"), drop, ok(b"retried"), ok(b"warm"), drop]
    pool = pool_for(server)
    pool.request("GET", "/", [])
    assert pool.request("GET", "/again", []).data == b"retried"
    assert [r.split(b" ")[1] for r in server.requests] == [b"/", b"/again", b"/again"]
    pool.request("GET", "/", [])
    with pytest.raises(UpstreamError):
        pool.request("POST", "/once", [], b"x")
    assert sum(1 for r in server.requests if r.startswith(b"POST")) == 1


def test_a_line_break_in_a_header_is_refused_before_sending(server: ScriptedServer) -> None:
    with pytest.raises(ValueError):
        pool_for(server).request("GET", "/", [("X-Evil", "a\r\nX-Injected: 1")])
    assert server.requests == []


def test_a_url_with_a_path_prefix_and_default_port() -> None:
    pool = Pool("http://members.internal/base/", 2, Timeout(1.0, 1.0))
    assert (pool.host_header, pool.port, pool.prefix) == ("members.internal", 80, "/base")
    with pytest.raises(ValueError):
        Pool("ftp://members.internal", 2, Timeout(1.0, 1.0))
