"""Events experiments consumes: the author projection (names and standing) and erasure."""

from __future__ import annotations

from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers, EventTables
from uskalla_events.contracts import MemberErased, MemberJoined, MemberUpdated

from experiments.service_layer import members


def register_handlers(handlers: EventHandlers, tables: EventTables) -> None:
    def member_changed(
        session: Session, event: Envelope, payload: MemberJoined | MemberUpdated
    ) -> None:
        members.member_changed(session, payload, event.occurred)

    handlers.on(MemberJoined)(member_changed)
    handlers.on(MemberUpdated)(member_changed)

    @handlers.on(MemberErased)
    def member_erased(session: Session, event: Envelope, payload: MemberErased) -> None:
        members.erase(session, tables, payload.member_id)
