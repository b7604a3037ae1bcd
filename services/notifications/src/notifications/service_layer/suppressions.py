"""Suppressed addresses: bounces and complaints, however they arrive, and a coordinator's lift.

A hard bounce suppresses at once, soft bounces once `SOFT_BOUNCE_LIMIT` of them fell within
30 days (since the last lift), a complaint turns off the member's lists and suppresses list
mail; each new suppression tells members (`notifications.address.bounced.v1`), a complaint
too (`notifications.address.complained.v1`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from uskalla_events import EventSystem
from uskalla_events.contracts import AddressBounced, AddressComplained, AddressReinstated
from uskalla_kit import Problem
from uskalla_kit.text import normalise_email

from notifications.adapters.models import Bounce, Recipient, Suppression

ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
#: Soft bounces are counted over this window.
SOFT_WINDOW = timedelta(days=30)
DEFAULT_SOFT_LIMIT = 3
#: A complaint suppresses list mail only: the member can still be sent a sign-in link.
LIST_ONLY = "complaint"


def email_hash(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def sql_email_hash(column: Any) -> ColumnElement[str]:
    """The same hash computed by PostgreSQL, for filtering whole audiences in one query."""
    return func.encode(func.sha256(func.convert_to(func.lower(column), "UTF8")), "hex")


def is_suppressed(session: Session, email: str, *, list_mail: bool = True) -> bool:
    """Whether mail may not go to the address (a complaint stops list mail only)."""
    query = select(Suppression.email_hash).where(
        Suppression.email_hash == email_hash(email), Suppression.suppressed_at.is_not(None)
    )
    if not list_mail:
        query = query.where(Suppression.reason.is_distinct_from(LIST_ONLY))
    return session.scalar(query) is not None


def record_bounce(
    session: Session,
    events: EventSystem,
    *,
    email: str,
    kind: str,
    reason: str = "",
    source: str = "manual",
    delivery_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
    soft_limit: int = DEFAULT_SOFT_LIMIT,
) -> dict[str, Any]:
    """Record a bounce (`hard`, `soft`) or a `complaint`; suppress the address when it is due
    and tell members, in the caller's transaction (through the outbox)."""
    address = normalise_email(email)
    hashed = email_hash(address)
    # Bounce reports quote addresses; the stored reason keeps none (erasure could not find it).
    clean_reason = ADDRESS.sub("<address>", reason)[:500]
    now = datetime.now(UTC)
    session.execute(
        insert(Suppression)
        .values(email_hash=hashed, id=uuid.uuid4(), soft_bounces=0, hard_bounces=0)
        .on_conflict_do_nothing(index_elements=[Suppression.email_hash])
    )
    row = session.scalars(
        select(Suppression).where(Suppression.email_hash == hashed).with_for_update()
    ).one()
    session.add(
        Bounce(
            email_hash=hashed,
            kind=kind,
            source=source,
            delivery_id=delivery_id,
            reason=clean_reason,
            received_at=now,
        )
    )
    row.hard_bounces += kind == "hard"
    row.soft_bounces += kind == "soft"
    row.last_reason, row.updated_at = clean_reason, now
    if member_id is None:
        member_id = session.scalar(
            select(Recipient.member_id).where(Recipient.email == address).limit(1)
        )
    due = _suppression_due(session, row, kind, source=source, limit=soft_limit, now=now)
    if due is not None and (row.suppressed_at is None or row.reason == LIST_ONLY):
        row.suppressed_at, row.reason = row.suppressed_at or now, due
        events.outbox.add(
            session, AddressBounced(email=address, member_id=member_id, reason=clean_reason or due)
        )
    elif kind == "complaint" and row.suppressed_at is None:
        row.suppressed_at, row.reason = now, LIST_ONLY
    if kind == "complaint":
        _lists_off(session, events, address, member_id)
    return {
        "email": address,
        "kind": kind,
        "suppressed": row.suppressed_at is not None,
        "soft_bounces": row.soft_bounces,
        "hard_bounces": row.hard_bounces,
    }


def _suppression_due(
    session: Session, row: Suppression, kind: str, *, source: str, limit: int, now: datetime
) -> str | None:
    """The reason to suppress the address for (all mail), if this bounce makes it due."""
    if kind == "hard":
        return "manual" if source == "manual" else "hard_bounce"
    if kind != "soft":
        return None
    since = max(now - SOFT_WINDOW, row.lifted_at or now - SOFT_WINDOW)
    session.flush()
    # One delivery's repeated reports (delay warnings at 4 h, 24 h...) count once.
    soft = session.scalar(
        select(func.count(func.distinct(func.coalesce(Bounce.delivery_id, Bounce.id)))).where(
            Bounce.email_hash == row.email_hash, Bounce.kind == "soft", Bounce.received_at > since
        )
    )
    return "soft_bounces" if (soft or 0) >= limit else None


def _lists_off(
    session: Session, events: EventSystem, address: str, member_id: uuid.UUID | None
) -> None:
    """A complaint: no list mail from now on here, and members turns the lists off."""
    session.execute(
        update(Recipient)
        .where(or_(Recipient.member_id == member_id, Recipient.email == address))
        .values(newsletter=False, invitations=False, follows=False, comments=False, digest="off")
    )
    events.outbox.add(session, AddressComplained(email=address, member_id=member_id))


def suppressed(session: Session, *, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """Suppressed addresses, newest first, with the member's address where they are known (a
    suppression keeps only the address's hash)."""
    active = Suppression.suppressed_at.is_not(None)
    total = session.scalar(select(func.count()).where(active)) or 0
    rows = session.scalars(
        select(Suppression)
        .where(active)
        .order_by(Suppression.suppressed_at.desc(), Suppression.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    known = {
        email_hash(email): (email, member_id)
        for email, member_id in session.execute(
            select(Recipient.email, Recipient.member_id).where(
                sql_email_hash(Recipient.email).in_([r.email_hash for r in rows])
            )
        )
    }
    return [
        {
            "id": r.id,
            "email": known.get(r.email_hash, (None, None))[0],
            "member_id": known.get(r.email_hash, (None, None))[1],
            "reason": r.reason or "hard_bounce",
            "since": r.suppressed_at.isoformat() if r.suppressed_at else None,  # active: set
            "bounces": r.hard_bounces + r.soft_bounces,
            "last_reason": r.last_reason,
        }
        for r in rows
    ], total


def lift(session: Session, events: EventSystem, suppression_id: uuid.UUID) -> None:
    """A coordinator lifts a suppression: mail goes again, soft bounces count afresh, and
    members hears that the member's address is deliverable (when we know whose it is)."""
    row = session.scalars(
        select(Suppression).where(Suppression.id == suppression_id).with_for_update()
    ).one_or_none()
    if row is None or row.suppressed_at is None:
        raise Problem(404, "Not found", "No such suppression (or it was lifted already).")
    row.suppressed_at, row.reason, row.lifted_at = None, None, datetime.now(UTC)
    recipient = session.execute(
        select(Recipient.email, Recipient.member_id)
        .where(sql_email_hash(Recipient.email) == row.email_hash)
        .limit(1)
    ).first()
    if recipient is not None:
        events.outbox.add(
            session, AddressReinstated(email=recipient.email, member_id=recipient.member_id)
        )
