"""The event backbone over `rediss://` against a redis-server speaking TLS only, its certificate
made by the test's own CA: verified (CA and host name) in the broker, the fast transport and
the receipts; refused when the CA, the host or the settings are wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sqlalchemy import insert
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.tls import TestCA
from uskalla_events import new_envelope
from uskalla_events.celery_app import make_celery
from uskalla_events.redis_tls import CA_FILE, RedisTLSError, redis_client, tls_options
from uskalla_events.transport import Transport

from .conftest import TABLES, Pair, joined
from .test_backbone import consumer_running


@pytest.fixture
def redis_url(redis_tls_url: str) -> str:
    """Every Redis of this module's `pair` is the TLS one."""
    return redis_tls_url


def test_events_travel_over_verified_tls_from_outbox_and_relay_to_the_handler(
    pair: Pair, test_ca: TestCA
) -> None:
    assert pair.publisher.broker_url.startswith("rediss://localhost:")
    with pair.publisher.celery.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)  # the fast transport, not dropped
        pool = conn.default_channel.client.connection_pool
        assert issubclass(pool.connection_class, redis.SSLConnection)
        kwargs = pool.connection_kwargs
        assert kwargs["ssl_cert_reqs"] == "required" and kwargs["ssl_check_hostname"] is True
        assert kwargs["ssl_ca_certs"] == str(test_ca.cert)

    # One event published right after its commit, one left to the relay's sweep.
    with pair.publisher.db.transaction() as session:
        first = pair.publisher.outbox.add(session, joined("Aino"))
    wait_until(lambda: pair.publisher.outbox.pending_count() == 0, message="Aino's publish")
    swept = new_envelope(joined("Eino"), correlation_id="req-tls")
    with pair.publisher.db.transaction() as session:
        session.execute(
            insert(TABLES.outbox).values(id=swept.id, type=swept.type, envelope=swept.to_dict())
        )
    relay = pair.publisher.relay()
    relay.grace = 0
    assert relay.run_once() == 1
    assert pair.publisher.outbox.pending_count() == 0

    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 2, message="both events handled")
        # The consumer's receipts, written to the same Redis, reach the producer's relay.
        wait_until(
            lambda: (
                pair.publisher.receipts.confirmed_by([first.id, swept.id])
                == {first.id: {"experiments"}, swept.id: {"experiments"}}
            ),
            message="the receipts",
        )
    assert sorted(name for _, name in pair.effects()) == ["Aino", "Eino"]


def refusal(url: str) -> str:
    """The error a redis-py client and Celery's broker connection meet at `url` (both must)."""
    client = redis_client(url, socket_connect_timeout=5)
    with pytest.raises(redis.ConnectionError) as from_redis:
        client.ping()
    client.close()
    app = make_celery("members", url)
    with pytest.raises(Exception) as from_celery:  # kombu wraps it in its OperationalError
        app.connection_for_write().ensure_connection(max_retries=1)
    assert "CERTIFICATE_VERIFY_FAILED" in str(from_celery.value)
    return str(from_redis.value)


def test_a_server_signed_by_another_ca_is_refused(
    redis_tls_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = TestCA(tmp_path / "other", name="another-ca")
    monkeypatch.setenv(CA_FILE, str(stranger.cert))
    assert "certificate verify failed" in refusal(redis_tls_url)


def test_without_the_ca_the_system_trust_store_does_not_vouch_for_the_server(
    redis_tls_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CA_FILE)
    assert "certificate verify failed" in refusal(redis_tls_url)


def test_a_host_name_the_certificate_does_not_name_is_refused(redis_tls_url: str) -> None:
    by_address = redis_tls_url.replace("//localhost:", "//127.0.0.1:")
    assert "IP address mismatch" in refusal(by_address)


def test_settings_that_would_weaken_or_drop_tls_stop_the_start(
    redis_tls_url: str, test_ca: TestCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(url: str) -> str:
        with pytest.raises(RedisTLSError) as raised:
            make_celery("members", url)
        with pytest.raises(RedisTLSError):
            redis_client(url)
        return str(raised.value)

    assert "ssl_cert_reqs" in refused(redis_tls_url + "?ssl_cert_reqs=none")
    assert "ssl_check_hostname" in refused(redis_tls_url + "?ssl_check_hostname=false")
    plain = redis_tls_url.replace("rediss://", "redis://")
    assert "REDIS_CA_FILE set but the Redis URL is redis://" in refused(plain)
    monkeypatch.setenv(CA_FILE, str(tmp_path / "missing.pem"))
    assert "REDIS_CA_FILE: cannot read" in refused(redis_tls_url)
    monkeypatch.setenv(CA_FILE, str(test_ca.cert))
    monkeypatch.setenv("REDIS_CLIENT_CERT_FILE", str(test_ca.cert))
    assert "go together" in refused(redis_tls_url)
    # A plain URL with no TLS setting stays plain (development, compose).
    monkeypatch.delenv("REDIS_CLIENT_CERT_FILE")
    monkeypatch.delenv(CA_FILE)
    assert tls_options(plain) == {}
    assert make_celery("members", plain).conf.broker_use_ssl is False
