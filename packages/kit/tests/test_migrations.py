"""`migrate --wait`'s logic on a real PostgreSQL: behind, at head, ahead, and the timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from uskalla_kit.migrations import schema_state, upgrade, wait_for_head

ENV = "from sqlalchemy import MetaData\nfrom uskalla_kit.migrations import run_env\n\nrun_env(MetaData())\n"
REVISION = '''"""{rev}"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade() -> None:
    op.create_table("t_{rev}", sa.Column("id", sa.Integer, primary_key=True))
'''


def script(where: Path, *revisions: str) -> Path:
    """An Alembic script directory whose revisions follow one another."""
    (where / "versions").mkdir(parents=True)
    (where / "env.py").write_text(ENV)
    (where / "script.py.mako").write_text("")
    down = None
    for rev in revisions:
        (where / "versions" / f"{rev}.py").write_text(REVISION.format(rev=rev, down=down))
        down = rev
    return where


def test_the_state_follows_the_database(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    url = make_database("kit_migrations_state")
    old = script(tmp_path / "old", "r1")
    new = script(tmp_path / "new", "r1", "r2")
    assert schema_state(new, url) == "behind"  # never migrated
    upgrade(old, url)
    assert schema_state(old, url) == "at head"
    assert schema_state(new, url) == "behind"
    upgrade(new, url)
    assert schema_state(new, url) == "at head"
    assert schema_state(old, url) == "ahead"  # the old image during a rollback


def test_wait_returns_once_the_database_is_migrated(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    url = make_database("kit_migrations_wait")
    migrations = script(tmp_path / "m", "r1", "r2")
    upgrade(migrations, url, "r1")
    outcome: list[object] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(wait_for_head(migrations, url, timeout=60, interval=0.2))
    )
    waiter.start()
    time.sleep(1.0)
    assert waiter.is_alive() and outcome == []  # still behind: still waiting
    upgrade(migrations, url)
    waiter.join(timeout=10)
    assert outcome == ["at head"]


def test_wait_gives_up_after_its_timeout_even_when_the_database_is_unreachable(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    migrations = script(tmp_path / "m", "r1")
    url = make_database("kit_migrations_timeout")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="not at head after 1 s \\(behind\\)"):
        wait_for_head(migrations, url, timeout=1, interval=0.2)
    assert 1 <= time.monotonic() - started < 10
    unreachable = url.rsplit("/", 1)[0] + "/no_such_database_h"
    with pytest.raises(TimeoutError, match="unreachable: OperationalError"):
        wait_for_head(migrations, unreachable, timeout=0.5, interval=0.2)
