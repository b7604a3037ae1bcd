"""The outbox, inbox and dead-letter tables each service keeps in its own database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

#: Constraint and index names every service's metadata uses (stable names for migrations).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@dataclass(frozen=True)
class EventTables:
    outbox: Table
    inbox: Table
    dead_letters: Table


def event_tables(metadata: MetaData) -> EventTables:
    """Add the three tables to a service's metadata (so its Alembic migrations carry them)."""
    outbox = Table(
        "event_outbox",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("type", String(200), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text),
        # Receipts: when every consumer had confirmed it, and the relay's redeliveries so far.
        Column("confirmed_at", DateTime(timezone=True)),
        Column("redelivered_at", DateTime(timezone=True)),
        Column("redeliveries", Integer, nullable=False, server_default="0"),
        Index(
            "ix_event_outbox_pending",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_event_outbox_published_at", "published_at"),
        Index(
            "ix_event_outbox_unconfirmed",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL AND confirmed_at IS NULL"),
        ),
    )
    inbox = Table(
        "event_inbox",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("type", String(200), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    dead_letters = Table(
        "event_dead_letters",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, index=True),
        Column("type", String(200), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("retried_at", DateTime(timezone=True)),
    )
    return EventTables(outbox, inbox, dead_letters)


def create_event_tables(bind: Connection) -> None:
    """For a service's first migration: create the three tables as `event_tables` defines them."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    event_tables(metadata)
    metadata.create_all(bind)


def drop_event_tables(bind: Connection) -> None:
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    event_tables(metadata)
    metadata.drop_all(bind)


def add_outbox_receipts(op: Any) -> None:
    """Migration step: the outbox columns for receipts and redelivery (see receipts.py).

    Idempotent, because a database created after this step existed already has the columns
    (the first migration creates the event tables as this package defines them now).
    """
    op.execute(
        "ALTER TABLE event_outbox ADD COLUMN IF NOT EXISTS confirmed_at TIMESTAMP WITH TIME ZONE,"
        " ADD COLUMN IF NOT EXISTS redelivered_at TIMESTAMP WITH TIME ZONE,"
        " ADD COLUMN IF NOT EXISTS redeliveries INTEGER DEFAULT 0 NOT NULL"
    )
    # Rows published before receipts existed count as confirmed.
    op.execute(
        "UPDATE event_outbox SET confirmed_at = published_at"
        " WHERE published_at IS NOT NULL AND confirmed_at IS NULL AND redeliveries = 0"
        " AND published_at < now() - interval '1 minute'"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_event_outbox_unconfirmed ON event_outbox (published_at)"
        " WHERE published_at IS NOT NULL AND confirmed_at IS NULL"
    )


def drop_outbox_receipts(op: Any) -> None:
    op.drop_index("ix_event_outbox_unconfirmed", table_name="event_outbox")
    for column in ("redeliveries", "redelivered_at", "confirmed_at"):
        op.drop_column("event_outbox", column)
