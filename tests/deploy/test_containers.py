"""The real postgres:15 and redis:7 images, configured as compose and the dev overlay run them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.deploy, pytest.mark.docker]


@pytest.fixture(scope="module")
def postgres_url(docker_engine: None) -> Iterator[str]:
    import psycopg
    from testcontainers.community.postgres import PostgresContainer
    from uskalla_kit.processes import wait_for

    container = PostgresContainer(
        "postgres:15",
        username="members",
        password="members-local",
        dbname="members",
        driver=None,
    ).start()
    try:
        url = str(container.get_connection_url())
        # Ready inside the container is not yet reachable through the mapped port: a CI run
        # once had "connection refused" from the host right after start().
        wait_for(lambda: psycopg.connect(url, connect_timeout=2).close(), "postgres port", 30)
        yield url
    finally:
        container.stop()


@pytest.fixture(scope="module")
def redis_container(docker_engine: None) -> Iterator[Any]:
    from testcontainers.community.redis import RedisContainer

    container = RedisContainer("redis:7").with_command(
        "redis-server --appendonly yes --maxmemory 2mb --maxmemory-policy noeviction"
    )
    container.start()
    try:
        yield container
    finally:
        container.stop()


def test_postgres_gives_the_service_its_own_utf8_database(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), pg_encoding_to_char(encoding), "
            "current_setting('server_version_num')::int "
            "FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    user, database, encoding, version = row
    assert (user, database, encoding) == ("members", "members", "UTF8")
    assert 150000 <= version < 160000


def test_postgres_keeps_committed_rows_and_drops_rolled_back_ones(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE outbox_probe (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO outbox_probe (body) VALUES ('kept')")
        conn.commit()
        conn.execute("INSERT INTO outbox_probe (body) VALUES ('lost')")
        conn.rollback()
        bodies = [r[0] for r in conn.execute("SELECT body FROM outbox_probe")]
    assert bodies == ["kept"]


def redis_client(container: Any) -> Any:
    import redis

    return redis.Redis(
        host=container.get_container_host_ip(),
        port=int(container.get_exposed_port(6379)),
        socket_timeout=5,
    )


def test_redis_runs_with_aof_and_noeviction(redis_container: Any) -> None:
    client = redis_client(redis_container)
    try:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    finally:
        client.close()


def test_a_full_broker_refuses_writes_instead_of_dropping_queued_messages(
    redis_container: Any,
) -> None:
    import redis

    client = redis_client(redis_container)
    try:
        client.rpush("members.events", b'{"id": "first"}')
        with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
            for _ in range(10_000):
                client.rpush("filler", b"x" * 4096)
        assert client.lindex("members.events", 0) == b'{"id": "first"}'
    finally:
        client.delete("filler")
        client.close()
