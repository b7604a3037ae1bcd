"""The outbox, inbox and dead-letter tables each service keeps in its own database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
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
        Index(
            "ix_event_outbox_pending",
            "created_at",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_event_outbox_published_at", "published_at"),
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
