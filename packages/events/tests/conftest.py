"""A publisher ("members") and a consumer ("experiments") on real PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, func, select
from sqlalchemy.orm import Session
from uskalla_events import (
    Database,
    Envelope,
    EventHandlers,
    EventSystem,
    TemporaryFailure,
    event_tables,
)
from uskalla_events.contracts import MemberJoined
from uskalla_events.vocabulary import Language

metadata = MetaData()
TABLES = event_tables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
)


@dataclass
class Behaviour:
    """How the consumer's handler behaves in a test."""

    failures_left: int = 0
    permanent: bool = False
    calls: list[str] = field(default_factory=list)
    #: Names whose events fail for good, and names whose events fail once, briefly.
    refuse: set[str] = field(default_factory=set)
    stumble: set[str] = field(default_factory=set)


@dataclass
class Pair:
    publisher: EventSystem
    consumer: EventSystem
    behaviour: Behaviour

    def effects(self) -> list[tuple[str, str]]:
        with self.consumer.db.transaction() as session:
            return [(str(r.event_id), r.name) for r in session.execute(select(effects))]

    def effect_count(self) -> int:
        with self.consumer.db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(effects)) or 0)


def joined(name: str = "Maija") -> MemberJoined:
    return MemberJoined(
        member_id=uuid.uuid4(),
        email=f"{name.lower()}@example.fi",
        name=name,
        language=Language.FI,
        organisation="Espoo",
        newsletter=True,
        invitations=False,
        joined_at=datetime(2026, 11, 27, 10, tzinfo=UTC),
    )


def make_system(service: str, url: str, redis_url: str, handlers: EventHandlers) -> EventSystem:
    db = Database(url, pool_size=4)
    metadata.create_all(db.engine)
    return EventSystem(
        service,
        db,
        TABLES,
        handlers,
        redis_url,
        visibility_timeout=30,
        max_retries=2,
        backoff_base=0.05,
        backoff_cap=0.2,
    )


@pytest.fixture
def pair(make_database: Callable[[str], str], redis_url: str) -> Iterator[Pair]:
    behaviour = Behaviour()
    consumer_handlers = EventHandlers("experiments")

    @consumer_handlers.on(MemberJoined)
    def record(session: Session, event: Envelope, payload: MemberJoined) -> None:
        behaviour.calls.append(event.id)
        if behaviour.failures_left > 0:
            behaviour.failures_left -= 1
            raise TemporaryFailure("the peer is briefly away")
        if behaviour.permanent or payload.name in behaviour.refuse:
            raise ValueError("this payload cannot be handled")
        if payload.name in behaviour.stumble:
            behaviour.stumble.discard(payload.name)
            raise TemporaryFailure("the peer is briefly away")
        session.execute(effects.insert().values(event_id=event.id, name=payload.name))

    publisher = make_system(
        "members", make_database("events_pub"), redis_url, EventHandlers("members")
    )
    consumer = make_system("experiments", make_database("events_con"), redis_url, consumer_handlers)
    yield Pair(publisher, consumer, behaviour)
    publisher.db.dispose()
    consumer.db.dispose()
