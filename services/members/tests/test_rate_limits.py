"""Rate limits on joining and asking for sign-in links: per address and per client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from uskalla_kit import Runtime

JOIN = {"name": "Testi", "language": "fi", "consent": True}


@pytest.fixture
def limited(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., FlaskClient]]:
    """limited(**settings) -> a client of an app with rate limits on, and the given limits."""
    from members.config import RateLimits

    def make(**limits: str) -> FlaskClient:
        monkeypatch.setenv("RATE_LIMITS", "on")
        defaults = RateLimits.from_env()
        runtime.extra["settings"].rate_limits = RateLimits(**{**defaults.__dict__, **limits})
        return runtime.create_app().test_client()

    yield make


def join(client: FlaskClient, email: str, client_address: str = "192.0.2.1") -> Any:
    return client.post(
        "/api/v1/members",
        json={**JOIN, "email": email},
        headers={"X-Forwarded-For": client_address},
    )


def test_join_per_address(limited: Callable[..., FlaskClient]) -> None:
    client = limited(join_per_address="2 per hour", join_per_client="100 per hour")
    assert [join(client, "a@example.fi", f"192.0.2.{i}").status_code for i in range(3)] == [
        202,
        202,
        429,
    ]
    refused = join(client, "A@Example.fi", "192.0.2.9")
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert join(client, "b@example.fi").status_code == 202


def test_join_per_client(limited: Callable[..., FlaskClient]) -> None:
    client = limited(join_per_address="100 per hour", join_per_client="2 per hour")
    codes = [join(client, f"p{i}@example.fi").status_code for i in range(3)]
    assert codes == [202, 202, 429]
    assert join(client, "other@example.fi", "198.51.100.7").status_code == 202


def test_sign_in_per_address_and_client(limited: Callable[..., FlaskClient]) -> None:
    client = limited(sign_in_per_address="1 per hour", sign_in_per_client="3 per hour")

    def ask(email: str) -> int:
        return client.post("/api/v1/auth/sign-in", json={"email": email}).status_code

    # The refused second request for a@ still counts against the client's allowance.
    codes = [ask(e) for e in ("a@example.fi", "a@example.fi", "b@example.fi", "c@example.fi")]
    assert codes == [202, 429, 202, 429]


def test_rate_limits_off_disables_them(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from members.config import RateLimits

    monkeypatch.setenv("RATE_LIMITS", "off")
    monkeypatch.setenv("JOIN_RATE_LIMIT_PER_ADDRESS", "1 per hour")
    runtime.extra["settings"].rate_limits = RateLimits.from_env()
    client = runtime.create_app().test_client()
    assert {join(client, "same@example.fi").status_code for _ in range(3)} == {202}


@pytest.mark.parametrize(
    ("setting", "path", "body"),
    [
        ("confirm_per_client", "/api/v1/members/confirm", {"token": "guess"}),
        ("token_per_client", "/api/v1/auth/token", {"token": "guess"}),
        ("unsubscribe_per_client", "/api/v1/unsubscribe?token=guess", {}),
    ],
)
def test_spending_a_token_is_limited_per_client(
    limited: Callable[..., FlaskClient], setting: str, path: str, body: dict[str, str]
) -> None:
    client = limited(**{setting: "2 per hour"})

    def spend(client_address: str = "192.0.2.1") -> Any:
        return client.post(path, json=body, headers={"X-Forwarded-For": client_address})

    assert [spend().status_code for _ in range(2)] == [400, 400]
    refused = spend()
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert spend("198.51.100.7").status_code == 400  # another client is still heard
