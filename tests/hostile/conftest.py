"""The whole system for the hostile-input and privacy proofs: real processes, a coordinator
bootstrapped by address, members signed in the real way (join, confirm, sign-in link)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from uskalla_devstack.mail import MailSink
from uskalla_devstack.servers import free_port
from uskalla_devstack.stack import Stack, StackConfig

from .system import COORDINATOR_EMAIL, System


@pytest.fixture(scope="module")
def system(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """A fresh stack per module (each proof counts rows, so no module sees another's traffic)."""
    var = tmp_path_factory.mktemp("hostile-stack")
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    sink = MailSink(var / "mail", "127.0.0.1", free_port())
    stack = Stack(
        StackConfig(
            postgres_url=postgres_server_url,
            redis_url=redis_server_url,
            smtp_host=sink.host,
            smtp_port=sink.smtp_port,
            var_dir=var,
            gateway_port=free_port(),
            database_prefix=f"hostile_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_",
            fresh_databases=True,
            echo=False,
            extra_env={
                "RATE_LIMITS": "off",
                "RELAY_INTERVAL": "0.5",
                "CELERY_VISIBILITY_TIMEOUT": "8",
                "MAIL_REQUEUE_AFTER": "5",
                "WORKER_CONCURRENCY": "2",
                "BOOTSTRAP_COORDINATORS": COORDINATOR_EMAIL,
            },
        )
    )
    try:
        stack.start()
        yield System(stack, sink)
    finally:
        stack.stop()
        sink.stop()
