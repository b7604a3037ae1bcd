"""Events the members service consumes."""

from __future__ import annotations

from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers
from uskalla_events.contracts import AddressBounced

from members.service_layer import Services


def register_handlers(handlers: EventHandlers, services: Services) -> None:
    @handlers.on(AddressBounced)
    def address_bounced(session: Session, event: Envelope, payload: AddressBounced) -> None:
        services.membership.mark_undeliverable(session, payload)
