"""A member's data here: the export the gateway merges, and erasure on request."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, String, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session
from uskalla_kit.text import normalise_email

from notifications.adapters.models import (
    EVENT_TABLES,
    Bounce,
    BounceMail,
    Delivery,
    FollowActivity,
    GatheringRegistration,
    Newsletter,
    Recipient,
    Suppression,
)
from notifications.domain.statuses import OPEN_DELIVERY, DeliveryStatus
from notifications.service_layer.suppressions import email_hash


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_member(session: Session, member_id: uuid.UUID) -> dict[str, Any]:
    """Everything notifications holds about one member, as JSON."""
    recipient = session.get(Recipient, member_id)
    deliveries = session.scalars(
        select(Delivery).where(Delivery.member_id == member_id).order_by(Delivery.created_at)
    ).all()
    emails = {d.email for d in deliveries} | ({recipient.email} if recipient else set())
    suppressions = (
        session.scalars(
            select(Suppression).where(Suppression.email_hash.in_([email_hash(e) for e in emails]))
        ).all()
        if emails
        else []
    )
    newsletters = session.scalars(
        select(Newsletter).where(Newsletter.created_by == member_id).order_by(Newsletter.created_at)
    ).all()
    return {
        "service": "notifications",
        "recipient": None
        if recipient is None
        else {
            "email": recipient.email,
            "name": recipient.name,
            "language": recipient.language,
            "organisation": recipient.organisation,
            "municipality_code": recipient.municipality_code,
            "newsletter": recipient.newsletter,
            "invitations": recipient.invitations,
            "follows": recipient.follows,
            "comments": recipient.comments,
            "digest": recipient.digest,
            "themes": list(recipient.themes or []),
            "municipality_codes": list(recipient.municipality_codes or []),
            "active": recipient.active,
        },
        "deliveries": [
            {
                "id": str(d.id),
                "kind": d.kind,
                "email": d.email,
                "language": d.language,
                "status": d.status,
                "attempts": d.attempts,
                "created_at": _iso(d.created_at),
                "sent_at": _iso(d.sent_at),
                "error": d.error,
            }
            for d in deliveries
        ],
        "bounces": [
            {
                "soft_bounces": s.soft_bounces,
                "hard_bounces": s.hard_bounces,
                "suppressed_at": _iso(s.suppressed_at),
            }
            for s in suppressions
        ],
        "newsletters_created": [
            {"id": str(n.id), "subject": n.subject, "created_at": _iso(n.created_at)}
            for n in newsletters
        ],
    }


def erase_member(session: Session, member_id: uuid.UUID) -> None:
    """Remove the recipient; anonymise the delivery log; scrub events that name the address;
    delete the bounces of their mail and the kept mail that names them.

    The suppression stays, keyed by the address's hash only (with its counts), so a dead
    address stays suppressed if someone gives it again.
    """
    recipient = session.get(Recipient, member_id)
    emails = set(
        session.scalars(select(Delivery.email).where(Delivery.member_id == member_id)).all()
    )
    if recipient is not None:
        emails.add(recipient.email)
        session.delete(recipient)
    session.execute(
        delete(GatheringRegistration).where(GatheringRegistration.member_id == member_id)
    )
    session.execute(delete(FollowActivity).where(FollowActivity.member_id == member_id))
    mentions = or_(Delivery.member_id == member_id, Delivery.email.in_(emails))
    _erase_bounces(session, member_id, emails, select(Delivery.id).where(mentions))
    session.execute(
        update(Delivery)
        .where(mentions, Delivery.status.in_(OPEN_DELIVERY))
        .values(status=DeliveryStatus.CANCELLED)
    )
    error = Delivery.error
    for email in emails:
        error = func.replace(func.lower(error), normalise_email(email), "<erased>")  # type: ignore[assignment]
    session.execute(
        update(Delivery)
        .where(mentions)
        .values(
            email=literal("erased-") + cast(Delivery.id, String) + literal("@invalid"),
            context={},
            member_id=None,
            error=error,
        )
    )
    session.execute(
        update(Newsletter).where(Newsletter.created_by == member_id).values(created_by=None)
    )
    # Kept events (for replay) and dead letters carry addresses and names: drop those rows.
    needles = [str(member_id), *emails]
    for table in (EVENT_TABLES.outbox, EVENT_TABLES.dead_letters):
        text_of = cast(table.c.envelope, String)
        session.execute(
            delete(table).where(or_(*(text_of.ilike(f"%{_like(n)}%") for n in needles)))
        )


def _erase_bounces(
    session: Session, member_id: uuid.UUID, emails: set[str], deliveries: Select[Any]
) -> None:
    """Bounce rows of the member's mail or address, and kept mail about their deliveries or
    whose raw text names their address or id (must run before the deliveries lose them)."""
    hashes = [email_hash(e) for e in emails]
    session.execute(
        delete(Bounce).where(
            or_(Bounce.delivery_id.in_(deliveries.scalar_subquery()), Bounce.email_hash.in_(hashes))
        )
    )
    # The raw mail is bytes in any charset: its printable ASCII is matched (addresses are).
    raw_text = func.encode(BounceMail.raw, "escape")
    needles = [str(member_id), str(member_id).replace("-", ""), *emails]
    session.execute(
        delete(BounceMail).where(
            or_(
                BounceMail.delivery_id.in_(deliveries.scalar_subquery()),
                *(raw_text.ilike(f"%{_like(n)}%") for n in needles),
                *(BounceMail.mail_from.ilike(f"%{_like(n)}%") for n in emails),
            )
        )
    )


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
