"""The fast path for API reads answers exactly as the Flask path would, and the API limiter."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from gateway.fastpath import ApiReads
from stub_service import StubService
from werkzeug.test import Client
from werkzeug.wrappers import Response as WResponse

VOLATILE = {"x-request-id", "date", "ratelimit-remaining", "ratelimit-reset"}


def both_ways(app: Flask) -> tuple[Client, Client]:
    fast = app.wsgi_app
    assert isinstance(fast, ApiReads)
    return Client(fast, WResponse), Client(fast.flask_app, WResponse)


def comparable(answer: WResponse) -> tuple[int, list[tuple[str, str]], Any]:
    headers = sorted((k.lower(), v) for k, v in answer.headers if k.lower() not in VOLATILE)
    body: Any = answer.get_data()
    if answer.mimetype == "application/json" and body:
        body = json.loads(body)  # the stub's echo: all but the (new) request id must match
        if isinstance(body, dict) and isinstance(body.get("headers"), dict):
            body["headers"].pop("X-Request-ID", None)
    return answer.status_code, headers, body


def seen_headers(stub: StubService) -> dict[str, str]:
    return {k: v for k, v in stub.seen[-1].headers.items() if k != "X-Request-ID"}


REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/api/v1/themes", {}),
    ("GET", "/api/v1/experiments?per_page=20&q=kirjasto+auki&page=2", {}),
    ("HEAD", "/api/v1/experiments", {}),
    ("GET", "/api/v1/experiments", {"Origin": "https://partner.example"}),
    ("GET", "/api/v1/experiments", {"Origin": "https://evil.example"}),
    ("GET", "/api/v1/gatherings", {"X-Forwarded-Proto": "https", "X-Request-ID": "abc-1"}),
    ("GET", "/api/v1/themes", {"Connection": "keep-alive, X-Drop", "X-Drop": "1", "TE": "x"}),
    ("GET", "/api/v1/themes", {"X-Internal-Token": "forged", "X-Forwarded-For": "6.6.6.6"}),
    ("GET", "/api/v1/themes", {"Authorization": "Basic dXNlcjpwdw==", "Accept": "text/csv"}),
    ("GET", "/api/v1/newsletters/n1", {"Accept-Language": "sv"}),
]


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
def test_the_fast_path_answers_and_forwards_as_flask_does(
    app: Flask,
    services: dict[str, StubService],
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    fast, flask = both_ways(app)
    for stub in services.values():
        stub.answers[("GET", "/api/v1/newsletters/n1")] = (
            200,
            {"id": "n1"},
            {"Vary": "Accept-Language", "Content-Security-Policy": "default-src 'none'"},
        )
    quick = fast.open(path, method=method, headers=headers)
    seen_fast = {n: seen_headers(s) for n, s in services.items() if s.seen}
    slow = flask.open(path, method=method, headers=headers)
    seen_flask = {n: seen_headers(s) for n, s in services.items() if s.seen}
    assert comparable(quick) == comparable(slow)
    assert seen_fast == seen_flask
    assert quick.headers["X-Request-ID"]
    # the stub's hop-by-hop answer headers (Connection: keep-alive, X-Secret) stay behind
    assert "X-Secret" not in quick.headers and "Keep-Alive" not in quick.headers
    for sent in seen_fast.values():  # and so do the client's, and its X-Forwarded-For claim
        assert not {"x-drop", "te", "x-internal-token"} & {k.lower() for k in sent}
        assert sent.get("X-Forwarded-For") != "6.6.6.6"


def test_a_valid_bearer_token_takes_the_fast_path_and_a_bad_one_gets_flasks_401(
    app: Flask, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    fast, flask = both_ways(app)
    token = make_token("3c1f4a52-6a43-4e63-9d1b-1b7f3c7d2a10")
    good = {"Authorization": f"Bearer {token}"}
    assert comparable(fast.get("/api/v1/members/me", headers=good)) == comparable(
        flask.get("/api/v1/members/me", headers=good)
    )
    assert services["members"].seen[-1].headers["Authorization"] == f"Bearer {token}"
    bad = fast.get("/api/v1/members/me", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_service_that_is_down_is_the_same_502_problem_both_ways(
    make_settings: Callable[..., Any],
) -> None:
    from gateway import create_app

    settings = make_settings()
    settings.services["experiments"] = "http://127.0.0.1:9"
    fast, flask = both_ways(create_app(settings))
    quick, slow = fast.get("/api/v1/experiments"), flask.get("/api/v1/experiments")
    assert quick.status_code == 502
    assert quick.mimetype == "application/problem+json"
    assert comparable(quick) == comparable(slow)


@pytest.mark.parametrize(
    ("method", "path", "headers", "fast"),
    [
        ("GET", "/api/v1/experiments?per_page=20", {}, True),
        ("HEAD", "/api/v1/experiments/abc", {}, True),
        ("POST", "/api/v1/experiments", {}, False),
        ("OPTIONS", "/api/v1/experiments", {}, False),
        ("GET", "/api/v1/members/me/export", {}, False),
        ("GET", "/api/v1/openapi.json", {}, False),
        ("GET", "/api/v1/nothing", {}, False),
        ("GET", "/api/v1/experiments?q=%C3%A4", {}, False),
        ("GET", "/api/v1//experiments", {}, False),
        ("GET", "/api/v1/experiments/ä", {}, False),
        ("GET", "/api/v1/experiments", {"Cookie": "uskalla_session=x"}, False),
        ("GET", "/experiments", {}, False),
        ("GET", "/api/v1/experiments?" + "a" * 8000, {}, False),
    ],
)
def test_what_takes_the_fast_path(
    app: Flask, method: str, path: str, headers: dict[str, str], fast: bool
) -> None:
    from werkzeug.test import EnvironBuilder

    reads = app.wsgi_app
    assert isinstance(reads, ApiReads)
    environ = EnvironBuilder(path=path, method=method, headers=headers).get_environ()
    service = reads._service(environ)
    assert (service is not None) is fast
    if fast:  # and Flask would have routed it to the forwarding view too
        endpoint, _ = app.url_map.bind_to_environ(environ).match(method=method)
        assert endpoint == "forward"


def test_the_api_limit_is_a_moving_window_with_ratelimit_headers(
    make_settings: Callable[..., Any],
) -> None:
    from gateway import create_app

    client = create_app(make_settings(rate_limits=True, api_rate_limit="2/second")).test_client()
    first = client.get("/api/v1/themes")
    assert first.headers["RateLimit-Limit"] == "2"
    assert first.headers["RateLimit-Remaining"] == "1"
    assert "Retry-After" not in first.headers  # only a refusal says when to come back
    assert client.post("/api/v1/experiments", json={}).headers["RateLimit-Remaining"] == "0"
    refused = client.get("/api/v1/themes")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["X-Request-ID"] and refused.headers["X-Frame-Options"] == "DENY"
    time.sleep(1.1)  # the window has moved past both requests
    assert client.get("/api/v1/themes").status_code == 200


def test_the_api_limit_fails_open_when_redis_is_away(make_settings: Callable[..., Any]) -> None:
    from gateway import create_app

    settings = make_settings(
        rate_limits=True, api_rate_limit="1/minute", redis_url="redis://127.0.0.1:9/0"
    )
    client = create_app(settings).test_client()
    answers = [client.get("/api/v1/themes") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "RateLimit-Limit" not in answers[0].headers


def test_limit_texts() -> None:
    from gateway.ratelimit import parse_limit

    assert parse_limit("600/minute") == (600, 60)
    assert parse_limit("10 per 5 seconds") == (10, 5)
    assert parse_limit("1000/day") == (1000, 86400)
    with pytest.raises(ValueError):
        parse_limit("lots")
