"""The browser session cookie becomes a bearer token; cookie-authenticated writes need CSRF."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from gateway.session import CSRF_COOKIE, SESSION_COOKIE
from stub_service import StubService

MEMBER = "5a0c8e5e-2f4b-4c1b-9a39-6f1f0c3f2d11"


def csrf_from_page(client: FlaskClient, path: str = "/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    marker = 'name="csrf-token" content="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_sign_in_callback_sets_an_httponly_lax_cookie(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    token = make_token(MEMBER)
    services["members"].answers[("POST", "/api/v1/auth/token")] = (
        200,
        {"access_token": token, "token_type": "Bearer", "expires_in": 900},
    )
    page = client.get("/sign-in/callback?token=abc")
    assert page.status_code == 200 and b'value="abc"' in page.data
    assert not [
        s for s in services["members"].seen if s.path == "/api/v1/auth/token"
    ]  # GET only shows
    csrf = csrf_from_page(client, "/sign-in/callback?token=abc")
    answer = client.post("/sign-in/callback", data={"token": "abc", "csrf_token": csrf})
    assert answer.status_code == 303 and answer.headers["Location"] == "/me"
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=900" in cookie
    assert "Secure" not in cookie  # plain HTTP in this test
    sent = next(s for s in services["members"].seen if s.path == "/api/v1/auth/token")
    assert sent.body == b'{"token": "abc"}'


def test_the_session_cookie_is_secure_behind_https(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    services["members"].answers[("POST", "/api/v1/auth/token")] = (
        200,
        {"access_token": make_token(MEMBER), "token_type": "Bearer", "expires_in": 900},
    )
    https = {"X-Forwarded-Proto": "https"}
    page = client.get("/sign-in/callback?token=abc", headers=https).get_data(as_text=True)
    marker = 'name="csrf-token" content="'
    csrf = page[page.index(marker) + len(marker) :].split('"')[0]
    answer = client.post(
        "/sign-in/callback", data={"token": "abc", "csrf_token": csrf}, headers=https
    )
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE))
    assert "Secure" in cookie


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
