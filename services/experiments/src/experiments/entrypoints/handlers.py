"""Events experiments consumes: the author projection (names and standing) and erasure."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers, EventTables

from experiments.service_layer import members


def register_handlers(handlers: EventHandlers, tables: EventTables) -> None:
    @handlers.on("members.member.joined.v1")
    @handlers.on("members.member.updated.v1")
    def member_changed(session: Session, event: Envelope) -> None:
        members.member_changed(session, event.data, event.occurred_at)

    @handlers.on("members.member.erased.v1")
    def member_erased(session: Session, event: Envelope) -> None:
        members.erase(session, tables, uuid.UUID(str(event.data["member_id"])))
