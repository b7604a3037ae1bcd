"""The Redis clients beside the event backbone over `rediss://` (the TLS-only redis-server of
the `redis_tls_url` fixture): the rate limits of the gateway and the services, the readiness
check, notifications' list rate; and a server that asks for a client certificate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from notifications.adapters.ratelimit import RateLimiter
from uskalla_devstack.servers import EmbeddedRedis, RedisTLS
from uskalla_devstack.tls import TestCA
from uskalla_events.redis_tls import CA_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE, redis_client
from uskalla_kit.ratelimit import make_limiter
from uskalla_kit.runtime import redis_check


def keys(url: str, pattern: str) -> list[bytes]:
    client = redis_client(url)
    try:
        return sorted(client.scan_iter(match=pattern))
    finally:
        client.close()


def test_rate_limits_count_in_redis_over_tls(redis_tls_url: str) -> None:
    app = Flask("limited")
    make_limiter(app, redis_tls_url, ["2 per minute"])
    app.add_url_rule("/", "index", lambda: "ok")
    client = app.test_client()
    # The limiter serves when Redis is away (swallow_errors): the 429 shows it counted there.
    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 429]
    assert keys(redis_tls_url, "*ratelimit*")


def test_readiness_check_and_list_rate_reach_redis_over_tls(
    redis_tls_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    redis_check(redis_tls_url)()  # raises when it cannot reach Redis
    RateLimiter(redis_tls_url, rate=5, key="tls-list-rate").wait()
    assert keys(redis_tls_url, "tls-list-rate:*")

    monkeypatch.setenv(CA_FILE, str(TestCA(tmp_path, name="another-ca").cert))
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        redis_check(redis_tls_url)()


@pytest.fixture(scope="module")
def mutual_tls(
    redis_tls_server_url: str, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A redis-server that accepts only clients with a certificate from `test_ca`."""
    server = test_ca.issue("redis-mtls", hosts=("localhost",))
    embedded = EmbeddedRedis(
        tmp_path_factory.mktemp("redis-mtls"),
        persistent=False,
        tls=RedisTLS(server.cert, server.key, test_ca.cert, auth_clients=True),
    )
    yield embedded.start()
    embedded.stop()


def test_a_client_certificate_is_presented_when_the_server_asks(
    mutual_tls: str, test_ca: TestCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CA_FILE, str(test_ca.cert))
    anonymous = redis_client(mutual_tls, socket_connect_timeout=5)
    with pytest.raises(redis.ConnectionError):
        anonymous.ping()
    anonymous.close()

    issued = test_ca.issue("uskalla-client", client=True)
    monkeypatch.setenv(CLIENT_CERT_FILE, str(issued.cert))
    monkeypatch.setenv(CLIENT_KEY_FILE, str(issued.key))
    known = redis_client(mutual_tls, socket_connect_timeout=5)
    assert known.ping() is True
    known.close()
