"""Members' own events: the recipient projection, erasure, and their personal e-mails."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import TemporaryFailure
from uskalla_kit.sealed import Sealer

from notifications.adapters.composer import LINK_TOKEN
from notifications.adapters.models import ErasedMember, Recipient
from notifications.service_layer.deliveries import Deliveries
from notifications.service_layer.privacy import erase_member
from notifications.service_layer.projections import upsert
from notifications.service_layer.standing import is_erased

SIGN_IN_MINUTES = 15


class UnreadableToken(Exception):
    """An event's link token does not open here: its e-mail would carry a broken link (or a
    raw value), so the event is dead-lettered instead (a permanent error)."""


def sealed_token(sealer: Sealer, d: dict[str, Any], event_type: str) -> str:
    """The event's link token as it came, sealed (it is opened only when the mail is built),
    once it is certain that it opens."""
    token = d.get("token")
    if not isinstance(token, str) or sealer.open(token) is None:
        raise UnreadableToken(
            f"the link token of {event_type} does not open with EVENT_TOKEN_KEYS: "
            "not sealed, or sealed with a key this service does not hold"
        )
    return token


def recipient(session: Session, member_id: str | uuid.UUID) -> Recipient | None:
    return session.get(Recipient, uuid.UUID(str(member_id)))


def not_older(changed_at: datetime) -> Any:
    """Only what the event is newer than (or as new as): a late event changes nothing."""
    return or_(Recipient.changed_at.is_(None), Recipient.changed_at <= changed_at)


class Recipients:
    def __init__(self, deliveries: Deliveries) -> None:
        self.deliveries = deliveries
        self.sealer = deliveries.settings.link_tokens

    def registered(self, session: Session, d: dict[str, Any], cause: str) -> None:
        """A confirmation (with the link of the sealed token) or an "already a member" note."""
        if is_erased(session, d["member_id"]):
            return
        # The address has not confirmed anything yet: these mails carry nothing the joiner
        # typed (the name), so the join form cannot send anyone wording of a stranger's choice.
        if d["already_member"]:
            kind, context = "already_member", {}
        else:
            token = sealed_token(self.sealer, d, "members.member.registered.v1")
            kind, context = "confirmation", {LINK_TOKEN: token}
        self.deliveries.schedule(
            session,
            kind=kind,
            email=d["email"],
            language=d["language"],
            cause=cause,
            context=context,
            member_id=d["member_id"],
        )

    def joined(self, session: Session, d: dict[str, Any], cause: str, changed_at: datetime) -> None:
        if is_erased(session, d["member_id"]):
            return  # a late event never brings an erased member back
        upsert(
            session,
            Recipient,
            Recipient.member_id,
            {
                "member_id": d["member_id"],
                "email": d["email"].lower(),
                "name": d["name"],
                "language": d["language"],
                "organisation": d["organisation"],
                "municipality_code": d["municipality_code"],
                "newsletter": d["newsletter"],
                "invitations": d["invitations"],
                "active": True,
                "role": d["role"],
                "changed_at": changed_at,
            },
            where=not_older(changed_at),
        )
        self.deliveries.schedule(
            session,
            kind="welcome",
            email=d["email"],
            language=d["language"],
            cause=cause,
            context={"name": d["name"]},
            member_id=d["member_id"],
        )

    def updated(self, session: Session, d: dict[str, Any], changed_at: datetime) -> None:
        session.execute(
            update(Recipient)
            .where(Recipient.member_id == d["member_id"], not_older(changed_at))
            .values(
                email=d["email"].lower(),
                name=d["name"],
                language=d["language"],
                organisation=d["organisation"],
                municipality_code=d["municipality_code"],
                active=d["active"],
                role=d["role"],
                changed_at=changed_at,
            )
        )
        if recipient(session, d["member_id"]) is None and not is_erased(session, d["member_id"]):
            # Before their joined event: a role or deactivation must not be lost. Later.
            raise TemporaryFailure(f"no recipient {d['member_id']} yet")

    def subscriptions_changed(self, session: Session, d: dict[str, Any]) -> None:
        session.execute(
            update(Recipient)
            .where(Recipient.member_id == d["member_id"])
            .values(newsletter=d["newsletter"], invitations=d["invitations"])
        )

    def sign_in_requested(self, session: Session, d: dict[str, Any], cause: str) -> None:
        if is_erased(session, d["member_id"]):
            return
        token = sealed_token(self.sealer, d, "members.sign_in.requested.v1")
        self.deliveries.schedule(
            session,
            kind="sign_in",
            email=d["email"],
            language=d["language"],
            cause=cause,
            context={
                "name": d["name"],
                LINK_TOKEN: token,
                "valid_minutes": d.get("valid_minutes") or SIGN_IN_MINUTES,
            },
            member_id=d["member_id"],
        )

    def erased(self, session: Session, member_id: uuid.UUID) -> None:
        erase_member(session, member_id)
        session.execute(insert(ErasedMember).values(member_id=member_id).on_conflict_do_nothing())
