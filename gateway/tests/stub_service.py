"""A real HTTP server standing in for a service: it records requests and answers as told."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # As gunicorn does: without it, Nagle and delayed ACKs add 40 ms to every answer.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the gateway hanging up on a slow stub is what the timeout tests are about


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int = 0


@dataclass
class StubService:
    name: str
    answers: dict[tuple[str, str], Answer | Callable[[Seen], Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    delay: float = 0.0
    close_reused: bool = False

    def start(self) -> StubService:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                served = getattr(self, "served", 0)
                self.served = served + 1
                if served and stub.close_reused:
                    # As a server closing an idle kept-alive connection just as a request
                    # came in on it: no answer, nothing handled.
                    self.close_connection = True
                    return
                seen = Seen(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    body,
                    self.client_address[1],
                )
                stub.seen.append(seen)
                if stub.delay:
                    time.sleep(stub.delay)
                path_only = self.path.split("?")[0]
                answer = stub.answers.get((self.command, path_only))
                if callable(answer):
                    answer = answer(seen)
                if answer is None:
                    answer = (
                        200,
                        {
                            "service": stub.name,
                            "method": seen.method,
                            "path": seen.path,
                            "headers": seen.headers,
                            "body": body.decode(errors="replace"),
                        },
                        {
                            "Connection": "keep-alive, X-Secret",
                            "X-Secret": "hop",
                            "Keep-Alive": "5",
                        },
                    )
                status, data, *extra = answer
                headers = extra[0] if extra else {}
                raw = data if isinstance(data, bytes) else json.dumps(data).encode()
                self.send_response(status)
                if "Content-Type" not in headers:
                    self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if self.command != "HEAD":  # as HTTP says (RFC 9110 §9.3.2)
                    self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        self.answers.clear()
        self.seen.clear()
        self.delay = 0.0
        self.close_reused = False
        self.answers[("GET", "/readyz")] = (200, {"status": "ok"})
