"""`<service> migrate --wait` (every Deployment's initContainer) against the real PostgreSQL:
it waits while the database is behind, returns once the migrate Job has run, and exits
non-zero when its timeout passes first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SERVICES = ("members", "experiments", "notifications")
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.deploy


def command(service: str, *args: str, database: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, f"{service.upper()}_DATABASE_URL": database}
    return [str(BIN / service), "migrate", *args], env


@pytest.mark.parametrize("service", SERVICES)
def test_wait_holds_until_the_migrate_job_has_run(
    service: str, service_env: dict[str, str], make_database: Callable[[str], str]
) -> None:
    database = make_database(f"{service}_migrate_wait")
    argv, env = command(
        service, "--wait", "--timeout", "120", "--interval", "0.3", database=database
    )
    waiter = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        time.sleep(3)
        assert waiter.poll() is None, waiter.communicate()[0]  # an empty database: still waiting
        argv, env = command(service, database=database)
        job = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert job.returncode == 0, job.stdout + job.stderr
        output, _ = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
        waiter.wait()
    assert waiter.returncode == 0, output
    assert f"{service}: database is at head" in output


def test_wait_fails_when_its_timeout_passes(
    service_env: dict[str, str], make_database: Callable[[str], str]
) -> None:
    database = make_database("members_migrate_timeout")
    argv, env = command(
        "members", "--wait", "--timeout", "1", "--interval", "0.2", database=database
    )
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "members: the database schema is not at head after 1 s (behind)" in out.stderr
