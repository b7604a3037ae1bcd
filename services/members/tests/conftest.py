"""Members tests run the real app on a real, migrated PostgreSQL database and real Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from members.bootstrap import build_runtime
from uskalla_devstack.pytest_plugin import truncate_all
from uskalla_kit import Runtime

MIGRATIONS = Path(__file__).parents[1] / "src" / "members" / "migrations"


@pytest.fixture
def runtime(
    service_env: dict[str, str],
    migrated_database: Callable[[str, Path], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runtime]:
    url = migrated_database("members", MIGRATIONS)
    truncate_all(url)
    monkeypatch.setenv("MEMBERS_DATABASE_URL", url)
    runtime = build_runtime()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return runtime.create_app().test_client()
