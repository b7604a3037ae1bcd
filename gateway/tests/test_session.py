"""The browser session cookie becomes a bearer token; cookie-authenticated writes need CSRF."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import INTERNAL
from flask.testing import FlaskClient
from gateway.session import CSRF_COOKIE, SESSION_COOKIE
from stub_service import StubService

MEMBER = "5a0c8e5e-2f4b-4c1b-9a39-6f1f0c3f2d11"


def csrf_from_page(client: FlaskClient, path: str = "/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    marker = 'name="csrf-token" content="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def _preview(services: dict[str, StubService], email: str = "maija@example.fi") -> None:
    services["members"].answers[("POST", "/internal/v1/sign-in/preview")] = (
        200,
        {"email": email, "name": "Maija", "language": "fi"},
    )


def _exchanges(services: dict[str, StubService]) -> int:
    return sum(s.path == "/api/v1/auth/token" for s in services["members"].seen)


def test_the_sign_in_link_names_the_address_and_signs_in_only_on_this_browsers_post(
    make_settings: Callable[..., Any],
    services: dict[str, StubService],
    make_token: Callable[..., str],
) -> None:
    from gateway import create_app

    app = create_app(make_settings())
    _preview(services)
    services["members"].answers[("POST", "/api/v1/auth/token")] = (
        200,
        {"access_token": make_token(MEMBER), "token_type": "Bearer", "expires_in": 900},
    )
    browser = app.test_client()
    page = browser.get("/en/sign-in/callback?token=abc")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Sign in as maija@example.fi?" in text and 'value="abc"' in text
    asked = next(s for s in services["members"].seen if s.path.startswith("/internal/"))
    assert asked.method == "POST" and asked.headers["X-Internal-Token"] == INTERNAL
    assert json.loads(asked.body) == {"token": "abc"}
    assert _exchanges(services) == 0  # opening the link (a mail scanner too) spends nothing
    # Login CSRF: another site posts the form into this browser, with no token or with the
    # attacker's own (valid in the attacker's browser): refused, the link is not spent.
    assert browser.post("/en/sign-in/callback", data={"token": "abc"}).status_code == 403
    attacker = app.test_client()
    theirs = csrf_from_page(attacker, "/en/sign-in")
    forged = browser.post("/en/sign-in/callback", data={"token": "abc", "csrf_token": theirs})
    assert forged.status_code == 403 and _exchanges(services) == 0
    csrf = csrf_from_page(browser, "/en/sign-in/callback?token=abc")
    answer = browser.post("/en/sign-in/callback", data={"token": "abc", "csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["Location"] == "/en/me"
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=900" in cookie
    assert "Secure" not in cookie  # plain HTTP in this test
    sent = next(s for s in services["members"].seen if s.path == "/api/v1/auth/token")
    assert sent.body == b'{"token": "abc"}'


@pytest.mark.parametrize("token", ["used-or-expired", ""])
def test_a_link_that_is_not_valid_says_so_and_offers_a_new_one(
    client: FlaskClient, services: dict[str, StubService], token: str
) -> None:
    services["members"].answers[("POST", "/internal/v1/sign-in/preview")] = (
        404,
        {"status": 404, "title": "Not Found"},
    )
    page = client.get(f"/en/sign-in/callback?token={token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "The sign-in link is not valid" in text
    assert 'href="/en/sign-in"' in text and 'name="token"' not in text
    assert _exchanges(services) == 0


def test_cookies_are_host_cookies_when_the_public_address_is_https(
    make_settings: Callable[..., Any],
    services: dict[str, StubService],
    make_token: Callable[..., str],
) -> None:
    from gateway import create_app

    _preview(services)
    services["members"].answers[("POST", "/api/v1/auth/token")] = (
        200,
        {"access_token": make_token(MEMBER), "token_type": "Bearer", "expires_in": 900},
    )
    secure = create_app(make_settings(public_base_url="https://uskalla.test")).test_client()
    base = "https://uskalla.test"
    page = secure.get("/sign-in/callback?token=abc", base_url=base)
    csrf_cookie = next(c for c in page.headers.getlist("Set-Cookie") if "csrf" in c)
    assert csrf_cookie.startswith(f"__Host-{CSRF_COOKIE}=")
    marker = 'name="csrf-token" content="'
    csrf = page.get_data(as_text=True).split(marker)[1].split('"')[0]
    answer = secure.post(
        "/sign-in/callback", data={"token": "abc", "csrf_token": csrf}, base_url=base
    )
    assert answer.status_code == 303
    session = next(c for c in answer.headers.getlist("Set-Cookie") if SESSION_COOKIE in c)
    assert session.startswith(f"__Host-{SESSION_COOKIE}=")
    for cookie in (csrf_cookie, session):
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    # Over plain HTTP no client header makes them Secure (nor __Host-, which needs Secure).
    plain = create_app(make_settings(public_base_url="http://127.0.0.1:8080")).test_client()
    spoofed = plain.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    cookie = spoofed.headers["Set-Cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=") and "Secure" not in cookie


def test_the_csrf_token_is_bound_to_the_session(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    anonymous = csrf_from_page(client)  # minted before signing in: a planted pair
    mine = make_token(MEMBER)
    client.set_cookie(SESSION_COOKIE, mine)
    signed_in = csrf_from_page(client)
    assert signed_in != anonymous
    headers = {"X-CSRF-Token": anonymous}
    assert client.patch("/api/v1/members/me", json={}, headers=headers).status_code == 403
    client.set_cookie(SESSION_COOKIE, make_token("7d1c2f9e-0b5a-4a4e-8f59-2c7d3b1e9a20"))
    headers = {"X-CSRF-Token": signed_in}  # another session, the same CSRF cookie
    assert client.patch("/api/v1/members/me", json={}, headers=headers).status_code == 403
    assert not [s for s in services["members"].seen if s.method == "PATCH"]
    client.set_cookie(SESSION_COOKIE, mine)
    assert client.patch("/api/v1/members/me", json={}, headers=headers).status_code == 200


def test_a_form_post_without_the_csrf_token_is_refused(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    client.get("/join")  # has a CSRF cookie, but posts no token
    answer = client.post("/join", data={"email": "a@example.fi", "consent": "on"})
    assert answer.status_code == 403
    assert b"<html" in answer.data
    forged = client.post("/join", data={"email": "a@example.fi", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert not [s for s in services["members"].seen if s.path == "/api/v1/members"]


def test_the_cookie_becomes_a_bearer_token_for_reads(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    token = make_token(MEMBER)
    client.set_cookie(SESSION_COOKIE, token)
    answer = client.get("/api/v1/members/me")
    assert answer.json["headers"]["Authorization"] == f"Bearer {token}"
    assert "Cookie" not in answer.json["headers"]


def test_cookie_authenticated_writes_need_the_csrf_header(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    token = make_token(MEMBER)
    client.set_cookie(SESSION_COOKIE, token)
    refused = client.patch("/api/v1/members/me", json={"name": "X"})
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert not [s for s in services["members"].seen if s.method == "PATCH"]
    csrf = csrf_from_page(client)
    wrong = client.patch(
        "/api/v1/members/me", json={"name": "X"}, headers={"X-CSRF-Token": "f" * 64}
    )
    assert wrong.status_code == 403
    answer = client.patch("/api/v1/members/me", json={"name": "X"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    assert answer.json["headers"]["Authorization"] == f"Bearer {token}"


def test_a_bearer_token_needs_no_csrf(client: FlaskClient, make_token: Callable[..., str]) -> None:
    token = make_token(MEMBER)
    answer = client.patch(
        "/api/v1/members/me", json={"name": "X"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200


def test_an_expired_cookie_is_dropped_not_forwarded(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    from datetime import UTC, datetime, timedelta

    client.set_cookie(
        SESSION_COOKIE, make_token(MEMBER, exp=datetime.now(UTC) - timedelta(minutes=1))
    )
    answer = client.get("/api/v1/experiments")
    assert answer.status_code == 200
    assert "Authorization" not in answer.json["headers"]
    cleared = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE)]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0]


def test_sign_out_clears_the_session_and_rotates_csrf(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    csrf = csrf_from_page(client)
    answer = client.post("/sign-out", data={"csrf_token": csrf})
    assert answer.status_code == 303
    cookies = answer.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"{SESSION_COOKIE}=;") for c in cookies)
    assert any(c.startswith(CSRF_COOKIE) for c in cookies)


def test_a_preview_that_fails_is_a_fault_not_a_dead_link(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["members"].answers[("POST", "/internal/v1/sign-in/preview")] = (
        403,
        {"status": 403, "title": "Forbidden"},
    )
    page = client.get("/en/sign-in/callback?token=abc")
    assert page.status_code == 502
    assert "The sign-in link is not valid" not in page.get_data(as_text=True)
