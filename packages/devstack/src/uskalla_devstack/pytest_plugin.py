"""Pytest fixtures for real servers: PostgreSQL, Redis, an SMTP sink and the whole running stack.

Servers are found as DESIGN.md says: TEST_DATABASE_URL / TEST_REDIS_URL, else testcontainers
where a Docker engine answers, else embedded ones started from pip packages.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from uskalla_devstack.mail import MailSink
from uskalla_devstack.servers import (
    EmbeddedRedis,
    RedisTLS,
    ServerSet,
    create_database,
    free_port,
    tls_redis_server,
)
from uskalla_devstack.stack import Stack, StackConfig
from uskalla_devstack.tls import TestCA


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


#: Tests that share one thing of the machine's: the Docker engine (one compose project, its
#: fixed ports) and the fault suite. With pytest-xdist (`--dist loadgroup`) they run one after
#: another on one worker while the other workers take the rest. (End-to-end and browser tests
#: each start their own stack on free ports with their own databases: they run side by side.)
SERIAL_MARKERS = ("docker", "faults")


# First: xdist's own hook (registered on each worker after the plugins) reads the group mark
# to give the test its group, so the mark must be on before it runs.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in SERIAL_MARKERS):
            item.add_marker(pytest.mark.xdist_group("processes"))


@pytest.fixture(scope="session")
def test_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSet]:
    servers = ServerSet(Path(tempfile.mkdtemp(prefix="uskalla-servers-")))
    yield servers
    servers.close()


@pytest.fixture(scope="session")
def postgres_server_url(test_servers: ServerSet) -> str:
    return test_servers.postgres()


@pytest.fixture(scope="session")
def redis_server_url(test_servers: ServerSet) -> str:
    return test_servers.redis()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """A Redis database emptied for this test."""
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    return redis_server_url


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A throw-away CA for TLS tests (its certificate in `test_ca.cert`)."""
    return TestCA(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def redis_tls_server_url(
    test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A redis-server of its own speaking TLS only, its certificate from `test_ca` and valid for
    `localhost` alone: `rediss://localhost:<port>/0`."""
    if tls_redis_server() is None:
        pytest.skip("the redis-server on the PATH is built without TLS (BUILD_TLS=yes)")
    server = test_ca.issue("redis-server", hosts=("localhost",))
    embedded = EmbeddedRedis(
        tmp_path_factory.mktemp("redis-tls"),
        persistent=False,
        tls=RedisTLS(server.cert, server.key, test_ca.cert),
    )
    url = embedded.start()
    yield url
    embedded.stop()


@pytest.fixture
def redis_tls_url(
    redis_tls_server_url: str, test_ca: TestCA, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The TLS Redis, emptied for this test, with REDIS_CA_FILE naming the CA that signed it."""
    monkeypatch.setenv("REDIS_CA_FILE", str(test_ca.cert))
    flush_redis(redis_tls_server_url)
    return redis_tls_server_url


def flush_redis(url: str) -> None:
    """Empty a test Redis; a `rediss://` one trusting the CA of REDIS_CA_FILE."""
    tls = {"ssl_ca_certs": os.environ.get("REDIS_CA_FILE")} if url.startswith("rediss://") else {}
    client = redis.Redis.from_url(url, **tls)
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def make_database(postgres_server_url: str) -> Callable[[str], str]:
    """A fresh database on the test server: make_database("members") -> its URL."""

    def make(name: str) -> str:
        return create_database(postgres_server_url, f"test_{name}_{_worker_id()}", drop=True)

    return make


@pytest.fixture
def mail_sink(tmp_path: Path) -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) keeping what arrives."""
    sink = MailSink(tmp_path / "mail", "127.0.0.1", free_port())
    yield sink
    sink.stop()


def wait_until(
    condition: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition",
) -> Any:
    """Poll until condition() is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


#: What end-to-end stacks run with: short timeouts so that kills recover within a test.
E2E_ENV = {
    "CELERY_VISIBILITY_TIMEOUT": "8",
    "MAIL_REQUEUE_AFTER": "5",
    "EVENT_REDELIVER_AFTER": "5",
    "RELAY_INTERVAL": "0.5",
    "RATE_LIMITS": "off",
    "WORKER_CONCURRENCY": "4",
}


@contextmanager
def stack_running(
    postgres_url: str, redis_url: str, var: Path, name: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[Stack, MailSink]]:
    """The whole system as real processes on fresh databases, mailing to a test SMTP server."""
    flush_redis(redis_url)
    sink = MailSink(var / "mail", "127.0.0.1", free_port())
    stack = Stack(
        StackConfig(
            postgres_url=postgres_url,
            redis_url=redis_url,
            smtp_host=sink.host,
            smtp_port=sink.smtp_port,
            var_dir=var,
            gateway_port=free_port(),
            database_prefix=f"{name}_{_worker_id()}_",
            fresh_databases=True,
            echo=False,
            extra_env={**E2E_ENV, **(extra_env or {})},
        )
    )
    try:
        stack.start()
        yield stack, sink
    finally:
        stack.stop()
        sink.stop()


@pytest.fixture(scope="module")
def running_stack(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, MailSink]]:
    """The whole system as real processes, mailing to a test SMTP server."""
    with stack_running(
        postgres_server_url, redis_server_url, tmp_path_factory.mktemp("stack"), "e2e"
    ) as running:
        yield running


@pytest.fixture(scope="session")
def jwt_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An Ed25519 pair for this test session: (private PEM path, public PEM path)."""
    from uskalla_devstack.keys import ensure_dev_keys

    return ensure_dev_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def service_env(
    monkeypatch: pytest.MonkeyPatch, jwt_keys: tuple[Path, Path], redis_url: str
) -> dict[str, str]:
    """The environment every service reads, pointing at the test servers (databases added by
    each service's conftest as <SERVICE>_DATABASE_URL)."""
    private, public = jwt_keys
    values = {
        "USKALLA_ENV": "test",
        "REDIS_URL": redis_url,
        "JWT_PRIVATE_KEY_FILE": str(private),
        "JWT_PUBLIC_KEY_FILE": str(public),
        "INTERNAL_API_TOKEN": "test-internal-token",
        "UNSUBSCRIBE_SECRET": "test-unsubscribe-secret",
        "PUBLIC_BASE_URL": "https://uskalla.test",
        "MAIL_FROM": "MeUskaltajat <noreply@uskalla.test>",
        "RATE_LIMITS": "off",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def make_token(jwt_keys: tuple[Path, Path]) -> Callable[..., str]:
    """make_token(member_id, role="member", **claim_overrides) -> a signed access token."""
    import uuid as _uuid
    from datetime import UTC, datetime, timedelta

    import jwt

    private_key = jwt_keys[0].read_text()

    def make(
        member_id: str | None = None,
        role: str = "member",
        *,
        key: str | None = None,
        algorithm: str = "EdDSA",
        **overrides: Any,
    ) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": member_id or str(_uuid.uuid4()),
            "role": role,
            "iss": "uskalla-members",
            "aud": "uskalla",
            "iat": now,
            "exp": now + timedelta(minutes=15),
        } | overrides
        return jwt.encode(claims, key or private_key, algorithm=algorithm)

    return make


_MIGRATED: dict[str, str] = {}


@pytest.fixture(scope="session")
def migrated_database(make_database: Callable[[str], str]) -> Callable[[str, Path], str]:
    """migrated_database("members", migrations) -> URL of a database at head, once a session."""
    from alembic import command
    from alembic.config import Config

    def make(name: str, migrations: Path) -> str:
        if name not in _MIGRATED:
            url = make_database(name)
            config = Config()
            config.set_main_option("script_location", str(migrations))
            config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
            command.upgrade(config, "head")
            _MIGRATED[name] = url
        return _MIGRATED[name]

    return make


def truncate_all(url: str) -> None:
    """Empty every table but Alembic's (fast isolation between tests on a migrated database)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            conn.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )


def lock_waiters(url: str) -> int:
    """How many sessions of the database at `url` wait on a lock right now (for tests that hold
    one side of a race open until the other side is seen waiting)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0
