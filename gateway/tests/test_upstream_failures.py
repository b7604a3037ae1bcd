"""A service that is down or slow gives a clear 502/504 problem in bounded time, never a hang."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from stub_service import StubService


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_service_that_is_down_is_a_502_problem(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    urls = {name: stub.url for name, stub in services.items()}
    urls["experiments"] = f"http://127.0.0.1:{closed_port()}"
    client = create_app(make_settings(services=urls)).test_client()
    started = time.monotonic()
    answer = client.get("/api/v1/experiments")
    assert time.monotonic() - started < 2
    assert answer.status_code == 502
    assert answer.mimetype == "application/problem+json"
    assert answer.json["title"] == "Bad Gateway"
    assert "experiments" in answer.json["detail"]
    assert answer.headers["X-Request-ID"]
    # The other services are not affected.
    assert client.get("/api/v1/municipalities").status_code == 200


def test_a_slow_service_is_a_504_problem_after_the_read_timeout(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    client = create_app(make_settings(read_timeout=0.4)).test_client()
    services["experiments"].delay = 2.0
    started = time.monotonic()
    answer = client.get("/api/v1/experiments")
    elapsed = time.monotonic() - started
    assert answer.status_code == 504
    assert answer.mimetype == "application/problem+json"
    assert answer.json["title"] == "Gateway Timeout"
    assert 0.35 < elapsed < 1.5


def test_a_slow_write_is_not_retried(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    client = create_app(make_settings(read_timeout=0.3)).test_client()
    services["members"].delay = 1.0
    assert client.post("/api/v1/members", json={"email": "a@b.fi"}).status_code == 504
    time.sleep(0.8)
    assert len([s for s in services["members"].seen if s.path == "/api/v1/members"]) == 1


def test_pages_show_a_friendly_502_page_when_a_service_is_down(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    urls = {name: stub.url for name, stub in services.items()}
    urls["members"] = f"http://127.0.0.1:{closed_port()}"
    client = create_app(make_settings(services=urls)).test_client()
    answer = client.get("/gatherings/0b6f8f9e-8c3e-4a31-9d52-2b3f39e8b0a1")
    assert answer.status_code == 502
    assert answer.mimetype == "text/html"
    assert "Palvelu ei vastaa" in answer.get_data(as_text=True)


def test_readiness_reports_each_service_and_stays_up_when_one_is_down(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    urls = {name: stub.url for name, stub in services.items()}
    urls["notifications"] = f"http://127.0.0.1:{closed_port()}"
    services["experiments"].answers[("GET", "/readyz")] = (503, {"status": "unavailable"})
    client = create_app(make_settings(services=urls)).test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["status"] == "degraded"
    assert answer.json["services"]["members"] == "ok"
    assert answer.json["services"]["experiments"] == "unavailable: 503"
    assert answer.json["services"]["notifications"] == "unavailable: 502"
    assert answer.json["checks"]["redis"] == "ok"
    strict = client.get("/readyz?strict=1")
    assert strict.status_code == 503


def test_readiness_is_ok_when_everything_is(client: FlaskClient) -> None:
    answer = client.get("/readyz?strict=1")
    assert answer.status_code == 200
    assert answer.json == {
        "status": "ok",
        "services": {"members": "ok", "experiments": "ok", "notifications": "ok"},
        "checks": {"redis": "ok"},
    }


def test_readiness_does_not_hang_on_a_hanging_service(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["members"].delay = 5.0
    started = time.monotonic()
    answer = client.get("/readyz")
    assert time.monotonic() - started < 4
    assert answer.json["services"]["members"] == "unavailable: 504"
