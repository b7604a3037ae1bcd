"""Events the members service consumes."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers

from members.adapters.models import Member


def register_handlers(handlers: EventHandlers) -> None:
    @handlers.on("notifications.address.bounced.v1")
    def address_bounced(session: Session, event: Envelope) -> None:
        email = event.data["email"].lower()
        session.execute(update(Member).where(Member.email == email).values(undeliverable=True))
