"""Events notifications consumes: keep the recipient projection, schedule e-mails."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers

from notifications.adapters.models import Delivery, Recipient
from notifications.deliveries import Deliveries


def confirm_url(base: str, language: str, token: str) -> str:
    prefix = "" if language == "fi" else f"/{language}"
    return f"{base}{prefix}/confirm?token={token}"


def upsert_recipient(session: Session, values: dict[str, Any]) -> None:
    statement = insert(Recipient).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Recipient.member_id],
            set_={k: statement.excluded[k] for k in values if k != "member_id"},
        )
    )


def register_handlers(handlers: EventHandlers, deliveries: Deliveries) -> None:
    """Add notifications' handlers to its registry, bound to this process's delivery service."""

    @handlers.on("members.member.registered.v1")
    def member_registered(session: Session, event: Envelope) -> None:
        d = event.data
        if d["already_member"]:
            kind, context = "already_member", {"name": d["name"]}
        else:
            base = deliveries.settings.common.public_base_url
            kind = "confirmation"
            context = {
                "name": d["name"],
                "confirm_url": confirm_url(base, d["language"], d["token"]),
            }
        deliveries.schedule(
            session,
            kind=kind,
            email=d["email"],
            language=d["language"],
            cause=event.id,
            context=context,
            member_id=d["member_id"],
        )

    @handlers.on("members.member.joined.v1")
    def member_joined(session: Session, event: Envelope) -> None:
        d = event.data
        upsert_recipient(
            session,
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
            },
        )
        deliveries.schedule(
            session,
            kind="welcome",
            email=d["email"],
            language=d["language"],
            cause=event.id,
            context={"name": d["name"]},
            member_id=d["member_id"],
        )

    @handlers.on("members.member.updated.v1")
    def member_updated(session: Session, event: Envelope) -> None:
        d = event.data
        session.execute(
            update(Recipient)
            .where(Recipient.member_id == d["member_id"])
            .values(
                email=d["email"].lower(),
                name=d["name"],
                language=d["language"],
                organisation=d["organisation"],
                municipality_code=d["municipality_code"],
                active=d["active"],
            )
        )

    @handlers.on("members.subscriptions.changed.v1")
    def subscriptions_changed(session: Session, event: Envelope) -> None:
        d = event.data
        session.execute(
            update(Recipient)
            .where(Recipient.member_id == d["member_id"])
            .values(newsletter=d["newsletter"], invitations=d["invitations"])
        )

    @handlers.on("members.member.erased.v1")
    def member_erased(session: Session, event: Envelope) -> None:
        member_id = event.data["member_id"]
        session.execute(delete(Recipient).where(Recipient.member_id == member_id))
        session.execute(
            update(Delivery)
            .where(Delivery.member_id == member_id)
            .values(
                email=f"erased-{member_id}@invalid",
                context={},
                member_id=None,
                status="cancelled",
            )
            .where(Delivery.status.in_(("pending", "retrying")))
        )
        session.execute(
            update(Delivery)
            .where(Delivery.member_id == member_id)
            .values(
                email=f"erased-{member_id}@invalid",
                context={},
                member_id=None,
            )
        )
