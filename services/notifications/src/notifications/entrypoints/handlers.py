"""Events notifications consumes: each handler passes its typed payload to one use case."""

from __future__ import annotations

from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers
from uskalla_events.contracts import (
    CommentPosted,
    ExperimentEvaluated,
    ExperimentPublished,
    ExperimentStageChanged,
    GatheringCancelled,
    GatheringChanged,
    GatheringPublished,
    InterestsChanged,
    MemberErased,
    MemberJoined,
    MemberRegistered,
    MemberUpdated,
    RegistrationChanged,
    SignInRequested,
    SubscriptionsChanged,
)

from notifications.service_layer import Services


def register_handlers(handlers: EventHandlers, services: Services) -> None:
    """Add notifications' handlers to its registry, bound to this process's services."""
    recipients, network, follows = services.recipients, services.network, services.follows

    @handlers.on(MemberRegistered)
    def member_registered(session: Session, event: Envelope, payload: MemberRegistered) -> None:
        recipients.registered(session, payload, event.id)

    @handlers.on(MemberJoined)
    def member_joined(session: Session, event: Envelope, payload: MemberJoined) -> None:
        recipients.joined(session, payload, event.id, event.occurred)

    @handlers.on(MemberUpdated)
    def member_updated(session: Session, event: Envelope, payload: MemberUpdated) -> None:
        recipients.updated(session, payload, event.occurred)

    @handlers.on(SubscriptionsChanged)
    def subscriptions_changed(
        session: Session, event: Envelope, payload: SubscriptionsChanged
    ) -> None:
        recipients.subscriptions_changed(session, payload)

    @handlers.on(InterestsChanged)
    def interests_changed(session: Session, event: Envelope, payload: InterestsChanged) -> None:
        recipients.interests_changed(session, payload, event.occurred)

    @handlers.on(SignInRequested)
    def sign_in_requested(session: Session, event: Envelope, payload: SignInRequested) -> None:
        recipients.sign_in_requested(session, payload, event.id)

    @handlers.on(MemberErased)
    def member_erased(session: Session, event: Envelope, payload: MemberErased) -> None:
        recipients.erased(session, payload.member_id)

    @handlers.on(GatheringPublished)
    def gathering_published(session: Session, event: Envelope, payload: GatheringPublished) -> None:
        network.gathering_published(session, payload)

    @handlers.on(RegistrationChanged)
    def registration_changed(
        session: Session, event: Envelope, payload: RegistrationChanged
    ) -> None:
        network.registration_changed(session, payload, event.id, event.occurred)

    @handlers.on(GatheringChanged)
    def gathering_changed(session: Session, event: Envelope, payload: GatheringChanged) -> None:
        network.gathering_changed(session, payload)

    @handlers.on(GatheringCancelled)
    def gathering_cancelled(session: Session, event: Envelope, payload: GatheringCancelled) -> None:
        network.gathering_cancelled(session, payload)

    @handlers.on(CommentPosted)
    def comment_posted(session: Session, event: Envelope, payload: CommentPosted) -> None:
        network.comment_posted(session, payload)
        follows.comment_posted(session, payload, event.occurred)

    @handlers.on(ExperimentStageChanged)
    def stage_changed(session: Session, event: Envelope, payload: ExperimentStageChanged) -> None:
        follows.stage_changed(session, payload)

    @handlers.on(ExperimentEvaluated)
    def evaluated(session: Session, event: Envelope, payload: ExperimentEvaluated) -> None:
        follows.evaluated(session, payload)

    @handlers.on(ExperimentPublished)
    def experiment_published(
        session: Session, event: Envelope, payload: ExperimentPublished
    ) -> None:
        network.experiment_published(session, payload)
