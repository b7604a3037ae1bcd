"""Alembic for every service: one env.py body, one programmatic upgrade, one wait for it."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, pool

log = logging.getLogger(__name__)
SchemaState = Literal["behind", "at head", "ahead"]


def alembic_config(migrations: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations, url), revision)


def schema_state(migrations: Path, url: str) -> SchemaState:
    """Where the database at `url` stands against this code's migrations: `behind` (not yet
    migrated, or to an older revision), `at head`, or `ahead` (migrated by a newer release,
    whose revision this code does not know: a rollback, served under expand-then-contract)."""
    script = ScriptDirectory.from_config(alembic_config(migrations, url))
    engine = create_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    known = {r.revision for r in script.walk_revisions()}
    if current - known:
        return "ahead"
    return "at head" if current == set(script.get_heads()) else "behind"


def wait_for_head(
    migrations: Path,
    url: str,
    *,
    timeout: float,
    interval: float = 2.0,
) -> SchemaState:
    """Poll until the database is at this code's head (or ahead of it); the database may be
    unreachable meanwhile. Raises TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = schema_state(migrations, url)
        except Exception as exc:  # not up yet, not reachable yet: keep waiting
            state, why = "behind", f"unreachable: {type(exc).__name__}"
        else:
            why = state
        if state != "behind":
            return state
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the database schema is not at head after {timeout:g} s ({why})")
        log.info("waiting for the database schema to reach head", extra={"state": why})
        time.sleep(interval)


def revision(migrations: Path, url: str, message: str) -> None:
    """Autogenerate a new revision from the models' metadata (developers only)."""
    command.revision(alembic_config(migrations, url), message=message, autogenerate=True)


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode; offline renders SQL)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(str(url), poolclass=pool.NullPool, hide_parameters=True)
    with engine.connect() as connection:
        # One migrator at a time, however many replicas start together.
        connection.exec_driver_sql("SELECT pg_advisory_lock(727001)")
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        connection.exec_driver_sql("SELECT pg_advisory_unlock(727001)")
        connection.commit()
    engine.dispose()
