"""gunicorn's own error answers are problem documents (the whole path, through a real gateway,
is proven in tests/hostile/test_hostile_input.py)."""

from __future__ import annotations

import json
import socket

from uskalla_kit.processes import write_problem


def test_an_error_gunicorn_answers_itself_is_a_problem_document() -> None:
    server, client = socket.socketpair()
    with server, client:
        write_problem(server, 501, "Bad Request", "Unsupported transfer coding: '%mf^\"P_'")
        server.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := client.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 501 Not Implemented"
    assert "Content-Type: application/problem+json" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {
        "type": "about:blank",
        "title": "Not Implemented",
        "status": 501,
        "detail": "Unsupported transfer coding: '%mf^\"P_'",
    }
