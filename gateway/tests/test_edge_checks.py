"""Edge checks before anything is forwarded: tokens, body size, rate limits, CORS, headers."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from stub_service import StubService


def forwarded(stub: StubService) -> int:
    return sum(1 for seen in stub.seen if seen.path.startswith("/api/"))


def test_a_valid_token_is_forwarded(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    token = make_token("3c1f4a52-6a43-4e63-9d1b-1b7f3c7d2a10")
    answer = client.get("/api/v1/members/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.json["headers"]["Authorization"] == f"Bearer {token}"


def _other_key() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


BAD_TOKENS: dict[str, Callable[[Callable[..., str], str], str]] = {
    "expired": lambda make, _: make(exp=datetime.now(UTC) - timedelta(seconds=5)),
    "wrong issuer": lambda make, _: make(iss="someone-else"),
    "wrong audience": lambda make, _: make(aud="another-app"),
    "unknown role": lambda make, _: make(role="admin"),
    "no expiry": lambda make, _: jwt.encode(
        {"sub": "x", "role": "member", "iss": "uskalla-members", "aud": "uskalla", "iat": 0},
        _other_key(),
        algorithm="EdDSA",
    ),
    "signed by another key": lambda make, _: make(key=_other_key()),
    "alg none": lambda make, _: jwt.encode(
        {"sub": "x", "role": "member", "iss": "uskalla-members", "aud": "uskalla"},
        None,
        algorithm="none",
    ),
    "HS256 with the public key as secret": lambda make, public: _hs256(public),
    "garbage": lambda make, _: "not.a.token",
}


def _hs256(public_pem: str) -> str:
    import base64
    import hashlib
    import hmac
    import json
    import time

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "sub": "x",
        "role": "coordinator",
        "iss": "uskalla-members",
        "aud": "uskalla",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{b64(signature.digest())}"


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_a_bad_token_is_refused_at_the_edge_and_never_forwarded(
    client: FlaskClient,
    services: dict[str, StubService],
    make_token: Callable[..., str],
    jwt_keys: Any,
    kind: str,
) -> None:
    token = BAD_TOKENS[kind](make_token, jwt_keys[1].read_text())
    answer = client.post(
        "/api/v1/experiments", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401, kind
    assert answer.mimetype == "application/problem+json"
    assert "invalid_token" in answer.headers["WWW-Authenticate"]
    assert forwarded(services["experiments"]) == 0


def test_anonymous_calls_pass_without_authorization(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    answer = client.get("/api/v1/experiments")
    assert answer.status_code == 200
    assert "Authorization" not in answer.json["headers"]


def test_a_body_over_the_limit_is_413_and_not_forwarded(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    client = create_app(make_settings(max_body_bytes=1000)).test_client()
    answer = client.post("/api/v1/members", data=b"x" * 1001, content_type="application/json")
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"
    ok = client.post("/api/v1/members", data=b"x" * 1000, content_type="application/json")
    assert ok.status_code == 200
    assert forwarded(services["members"]) == 1


def test_a_chunked_body_over_the_limit_is_413(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    client = create_app(make_settings(max_body_bytes=1000)).test_client()

    # As gunicorn presents a chunked body: no Content-Length, the input stream terminated.
    answer = client.post(
        "/api/v1/members",
        input_stream=io.BytesIO(b"y" * 2000),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_base={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 413
    assert forwarded(services["members"]) == 0


def test_rate_limit_answers_429_with_retry_after(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    client = create_app(make_settings(rate_limits=True, api_rate_limit="3/minute")).test_client()
    first = client.get("/api/v1/themes", headers={"Origin": "https://partner.example"})
    # The budget is told in the standard RateLimit-* fields, which a browser may read.
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("3", "2")
    assert not [name for name, _ in first.headers if name.startswith("X-RateLimit")]
    assert "Retry-After" not in first.headers  # nothing was refused: no reason to wait
    exposed = {h.strip() for h in first.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= exposed
    statuses = [client.get("/api/v1/themes").status_code for _ in range(2)]
    assert statuses == [200, 200]
    refused = client.get("/api/v1/experiments")  # the limit is for the API at large
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert not [s for s in services["experiments"].seen if s.path == "/api/v1/experiments"]
    # Another client (address) has its own budget.
    other = client.get("/api/v1/themes", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_rate_limits_off_means_off(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    client = create_app(make_settings(rate_limits=False, api_rate_limit="2/minute")).test_client()
    assert all(client.get("/api/v1/themes").status_code == 200 for _ in range(5))


def test_cors_preflight_for_a_configured_origin(client: FlaskClient) -> None:
    answer = client.options(
        "/api/v1/experiments",
        headers={
            "Origin": "https://partner.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in answer.headers  # bearer tokens only


def test_cors_is_not_granted_to_other_origins(client: FlaskClient) -> None:
    preflight = client.options(
        "/api/v1/experiments",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    answer = client.get("/api/v1/experiments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in answer.headers
    allowed = client.get("/api/v1/experiments", headers={"Origin": "https://partner.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    assert "Origin" in allowed.headers["Vary"]


def test_security_headers_on_pages_and_api(client: FlaskClient) -> None:
    for path in ("/", "/api/v1/themes", "/healthz"):
        answer = client.get(path)
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in answer.headers  # plain HTTP: no HSTS


def test_hsts_follows_the_configured_public_address_not_a_header(
    make_settings: Callable[..., Any],
) -> None:
    from gateway import create_app

    plain = create_app(make_settings(public_base_url="http://127.0.0.1:8080")).test_client()
    spoofed = plain.get("/api/v1/themes", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers
    secure = create_app(make_settings(public_base_url="https://uskalla.test")).test_client()
    assert secure.get("/").headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_spoofed_x_forwarded_for_does_not_escape_the_rate_limit(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    """X-Forwarded-For counts only from a peer in TRUSTED_PROXIES: the first address from the
    right that is no trusted proxy is the client (for limits, logs and the services)."""
    from gateway import create_app

    settings = make_settings(
        rate_limits=True, api_rate_limit="3/minute", trusted_proxies=("10.0.0.0/8",)
    )
    client = create_app(settings).test_client()
    statuses = [
        client.get("/api/v1/themes", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    assert {s.headers["X-Forwarded-For"] for s in services["experiments"].seen} == {"127.0.0.1"}
    # Through a trusted proxy: the address it vouches for, not one the client put before it.
    proxied = client.get(
        "/api/v1/themes",
        headers={"X-Forwarded-For": "127.0.0.1, 198.51.100.7, 10.0.0.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.5"},
    )
    assert proxied.status_code == 200
    assert proxied.json["headers"]["X-Forwarded-For"] == "198.51.100.7"


def test_trusted_proxies_must_be_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import networks
    from uskalla_kit.settings import SettingError

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.4,fd00::/8")
    assert networks("TRUSTED_PROXIES") == ("10.0.0.0/8", "192.168.1.4", "fd00::/8")
    monkeypatch.setenv("TRUSTED_PROXIES", "1")  # the old count
    with pytest.raises(SettingError):
        networks("TRUSTED_PROXIES")


def test_form_posts_of_the_ui_are_rate_limited(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    def posts(client: FlaskClient) -> list[int]:
        page = client.get("/en/sign-in").get_data(as_text=True)
        csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
        services["members"].answers[("POST", "/api/v1/auth/sign-in")] = (202, {})
        form = {"email": "a@example.fi", "csrf_token": csrf}
        return [client.post("/en/sign-in", data=form).status_code for _ in range(4)]

    limited = create_app(make_settings(rate_limits=True, ui_post_rate_limit="2/minute"))
    statuses = posts(limited.test_client())
    assert statuses == [303, 303, 429, 429]
    refused = limited.test_client().post("/en/sign-in", data={})
    assert refused.status_code == 429 and "Too many requests" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    unlimited = create_app(make_settings(rate_limits=False, ui_post_rate_limit="2/minute"))
    assert posts(unlimited.test_client()) == [303] * 4
