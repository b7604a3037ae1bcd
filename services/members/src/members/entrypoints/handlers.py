"""Events the members service consumes."""

from __future__ import annotations

from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers

from members.service_layer import Services


def register_handlers(handlers: EventHandlers, services: Services) -> None:
    @handlers.on("notifications.address.bounced.v1")
    def address_bounced(session: Session, event: Envelope) -> None:
        services.membership.mark_undeliverable(session, event.data["email"])
