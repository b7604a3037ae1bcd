"""Requests carrying text PostgreSQL cannot store, or absurd JSON, get clear 4xx answers."""

from __future__ import annotations

from flask import Flask, jsonify
from uskalla_kit import json_body
from uskalla_kit.auth import TokenVerifier
from uskalla_kit.runtime import make_app


def app() -> Flask:
    application = make_app(
        "test",
        max_body_bytes=1 << 20,
        verifier=TokenVerifier("", issuer="i", audience="a"),
        checks={},
    )

    @application.post("/echo")
    def echo():  # type: ignore[no-untyped-def]
        return jsonify(json_body())

    @application.get("/search")
    def search():  # type: ignore[no-untyped-def]
        return jsonify(ok=True)

    return application


def test_nul_and_lone_surrogates_in_a_body_are_422_per_field() -> None:
    client = app().test_client()
    answer = client.post(
        "/echo",
        data=b'{"title": "a\\u0000b", "tags": ["ok", "x\\ud800"]}',
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"title", "tags.1"}


def test_deep_json_is_refused_without_a_crash() -> None:
    client = app().test_client()
    for body in (b"[" * 100_000, b'{"a":' * 50 + b"1" + b"}" * 50):
        answer = client.post("/echo", data=body, content_type="application/json")
        assert answer.status_code in (400, 422), answer.status_code
        assert answer.content_type == "application/problem+json"


def test_query_strings_must_be_utf8_without_nul() -> None:
    client = app().test_client()
    assert client.get("/search?q=kokeilu%C3%A4").status_code == 200
    for query in ("q=%FF%FE", "q=%C3%28"):
        answer = client.get(f"/search?{query}")
        assert answer.status_code == 400, query
        assert answer.json["title"] == "Bad query string"
    nul = client.get("/search?q=a%00b&page=1")
    assert nul.status_code == 422
    assert set(nul.json["errors"]) == {"q"}


def test_over_long_urls_are_414_problems() -> None:
    answer = app().test_client().get("/search?q=" + "a" * 9000)
    assert answer.status_code == 414
    assert answer.content_type == "application/problem+json"
