"""Events notifications consumes: each handler reads its event and calls one use case."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers
from uskalla_reference.gatherings import parse_time

from notifications.service_layer import Services


def register_handlers(handlers: EventHandlers, services: Services) -> None:
    """Add notifications' handlers to its registry, bound to this process's services."""
    recipients, network = services.recipients, services.network

    @handlers.on("members.member.registered.v1")
    def member_registered(session: Session, event: Envelope) -> None:
        recipients.registered(session, event.data, event.id)

    @handlers.on("members.member.joined.v1")
    def member_joined(session: Session, event: Envelope) -> None:
        recipients.joined(session, event.data, event.id, parse_time(event.occurred_at))

    @handlers.on("members.member.updated.v1")
    def member_updated(session: Session, event: Envelope) -> None:
        recipients.updated(session, event.data, parse_time(event.occurred_at))

    @handlers.on("members.subscriptions.changed.v1")
    def subscriptions_changed(session: Session, event: Envelope) -> None:
        recipients.subscriptions_changed(session, event.data)

    @handlers.on("members.sign_in.requested.v1")
    def sign_in_requested(session: Session, event: Envelope) -> None:
        recipients.sign_in_requested(session, event.data, event.id)

    @handlers.on("members.member.erased.v1")
    def member_erased(session: Session, event: Envelope) -> None:
        recipients.erased(session, uuid.UUID(event.data["member_id"]))

    @handlers.on("members.gathering.published.v1")
    def gathering_published(session: Session, event: Envelope) -> None:
        network.gathering_published(session, event.data)

    @handlers.on("members.registration.changed.v1")
    def registration_changed(session: Session, event: Envelope) -> None:
        network.registration_changed(session, event.data, event.id)

    @handlers.on("experiments.comment.posted.v1")
    def comment_posted(session: Session, event: Envelope) -> None:
        network.comment_posted(session, event.data)

    @handlers.on("experiments.experiment.published.v1")
    def experiment_published(session: Session, event: Envelope) -> None:
        network.experiment_published(session, event.data)
