"""Alembic for every service: one env.py body, one programmatic upgrade."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool


def alembic_config(migrations: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(migrations: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations, url), revision)


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
