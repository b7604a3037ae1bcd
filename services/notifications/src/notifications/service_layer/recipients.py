"""Members' own events: the recipient projection, erasure, and their personal e-mails."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import TemporaryFailure
from uskalla_events.contracts import (
    InterestsChanged,
    MemberJoined,
    MemberRegistered,
    MemberUpdated,
    SignInRequested,
    SubscriptionsChanged,
)
from uskalla_kit.sealed import Sealer
from uskalla_kit.text import normalise_email

from notifications.adapters.composer import LINK_TOKEN
from notifications.adapters.models import ErasedMember, Recipient
from notifications.service_layer.deliveries import Deliveries
from notifications.service_layer.privacy import erase_member
from notifications.service_layer.projections import upsert
from notifications.service_layer.standing import is_erased


class UnreadableToken(Exception):
    """An event's link token does not open here: its e-mail would carry a broken link (or a
    raw value), so the event is dead-lettered instead (a permanent error)."""


def sealed_token(sealer: Sealer, token: str | None, event_type: str) -> str:
    """The event's link token as it came, sealed (it is opened only when the mail is built),
    once it is certain that it opens."""
    if token is None or sealer.open(token) is None:
        raise UnreadableToken(
            f"the link token of {event_type} does not open with EVENT_TOKEN_KEYS: "
            "not sealed, or sealed with a key this service does not hold"
        )
    return token


def recipient(session: Session, member_id: uuid.UUID) -> Recipient | None:
    return session.get(Recipient, member_id)


def not_older(changed_at: datetime) -> Any:
    """Only what the event is newer than (or as new as): a late event changes nothing."""
    return or_(Recipient.changed_at.is_(None), Recipient.changed_at <= changed_at)


class Recipients:
    def __init__(self, deliveries: Deliveries) -> None:
        self.deliveries = deliveries
        self.sealer = deliveries.settings.link_tokens

    def registered(self, session: Session, e: MemberRegistered, cause: str) -> None:
        """A confirmation (with the link of the sealed token) or an "already a member" note."""
        if is_erased(session, e.member_id):
            return
        # The address has not confirmed anything yet: these mails carry nothing the joiner
        # typed (the name), so the join form cannot send anyone wording of a stranger's choice.
        context: dict[str, Any]
        if e.already_member:
            kind, context = "already_member", {}
        else:
            token = sealed_token(self.sealer, e.token, "members.member.registered.v1")
            kind = "confirmation"
            # An older event does not say the lifetime: the composer says the setting's.
            context = {LINK_TOKEN: token}
            if e.valid_hours:
                context["valid_hours"] = e.valid_hours
        self.deliveries.schedule(
            session,
            kind=kind,
            email=e.email,
            language=e.language,
            cause=cause,
            context=context,
            member_id=e.member_id,
        )

    def joined(self, session: Session, e: MemberJoined, cause: str, changed_at: datetime) -> None:
        if is_erased(session, e.member_id):
            return  # a late event never brings an erased member back
        upsert(
            session,
            Recipient,
            Recipient.member_id,
            {
                "member_id": e.member_id,
                "email": normalise_email(e.email),
                "name": e.name,
                "language": e.language,
                "organisation": e.organisation,
                "municipality_code": e.municipality_code,
                "newsletter": e.newsletter,
                "invitations": e.invitations,
                "active": True,
                "role": e.role,
                "themes": list(e.themes),
                "municipality_codes": list(e.municipality_codes),
                "digest": e.digest.value,
                "follows": e.follows,
                "comments": e.comments,
                "interests_changed_at": changed_at,
                "changed_at": changed_at,
            },
            where=not_older(changed_at),
        )
        self.deliveries.schedule(
            session,
            kind="welcome",
            email=e.email,
            language=e.language,
            cause=cause,
            context={"name": e.name},
            member_id=e.member_id,
        )

    def updated(self, session: Session, e: MemberUpdated, changed_at: datetime) -> None:
        session.execute(
            update(Recipient)
            .where(Recipient.member_id == e.member_id, not_older(changed_at))
            .values(
                email=normalise_email(e.email),
                name=e.name,
                language=e.language,
                organisation=e.organisation,
                municipality_code=e.municipality_code,
                active=e.active,
                role=e.role,
                changed_at=changed_at,
            )
        )
        if recipient(session, e.member_id) is None and not is_erased(session, e.member_id):
            # Before their joined event: a role or deactivation must not be lost. Later.
            raise TemporaryFailure(f"no recipient {e.member_id} yet")

    def subscriptions_changed(self, session: Session, e: SubscriptionsChanged) -> None:
        lists = {"newsletter": e.newsletter, "invitations": e.invitations}
        # An older producer says nothing of follows and comments: what is known stays.
        lists |= {
            k: v for k, v in (("follows", e.follows), ("comments", e.comments)) if v is not None
        }
        session.execute(update(Recipient).where(Recipient.member_id == e.member_id).values(**lists))

    def interests_changed(
        self, session: Session, e: InterestsChanged, changed_at: datetime
    ) -> None:
        """The member's themes, municipalities and digest frequency now (an older event that
        arrives late changes nothing): digests and theme audiences select on them."""
        session.execute(
            update(Recipient)
            .where(
                Recipient.member_id == e.member_id,
                or_(
                    Recipient.interests_changed_at.is_(None),
                    Recipient.interests_changed_at <= changed_at,
                ),
            )
            .values(
                themes=list(e.themes),
                municipality_codes=list(e.municipality_codes),
                digest=e.digest.value,
                interests_changed_at=changed_at,
            )
        )
        if recipient(session, e.member_id) is None and not is_erased(session, e.member_id):
            raise TemporaryFailure(f"no recipient {e.member_id} yet")

    def sign_in_requested(self, session: Session, e: SignInRequested, cause: str) -> None:
        if is_erased(session, e.member_id):
            return
        token = sealed_token(self.sealer, e.token, "members.sign_in.requested.v1")
        self.deliveries.schedule(
            session,
            kind="sign_in",
            email=e.email,
            language=e.language,
            cause=cause,
            context={"name": e.name, LINK_TOKEN: token}
            | ({"valid_minutes": e.valid_minutes} if e.valid_minutes else {}),
            member_id=e.member_id,
        )

    def erased(self, session: Session, member_id: uuid.UUID) -> None:
        erase_member(session, member_id)
        session.execute(insert(ErasedMember).values(member_id=member_id).on_conflict_do_nothing())
