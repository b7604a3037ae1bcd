"""Events the members service consumes."""

from __future__ import annotations

from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers
from uskalla_events.contracts import AddressBounced, AddressComplained, AddressReinstated

from members.service_layer import Services


def register_handlers(handlers: EventHandlers, services: Services) -> None:
    @handlers.on(AddressBounced)
    def address_bounced(session: Session, event: Envelope, payload: AddressBounced) -> None:
        services.membership.mark_undeliverable(session, payload)

    @handlers.on(AddressComplained)
    def address_complained(session: Session, event: Envelope, payload: AddressComplained) -> None:
        services.membership.complained(session, payload)

    @handlers.on(AddressReinstated)
    def address_reinstated(session: Session, event: Envelope, payload: AddressReinstated) -> None:
        services.membership.reinstated(session, payload)
