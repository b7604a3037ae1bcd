"""Suppressed addresses: hard bounces are never mailed again; soft bounces are counted."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from uskalla_events import EventSystem
from uskalla_events.contracts import AddressBounced
from uskalla_kit.text import normalise_email

from notifications.adapters.models import Recipient, Suppression

ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


def email_hash(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def sql_email_hash(column: Any) -> ColumnElement[str]:
    """The same hash computed by PostgreSQL, for filtering whole audiences in one query."""
    return func.encode(func.sha256(func.convert_to(func.lower(column), "UTF8")), "hex")


def is_suppressed(session: Session, email: str) -> bool:
    return (
        session.scalar(
            select(Suppression.email_hash).where(
                Suppression.email_hash == email_hash(email), Suppression.suppressed_at.is_not(None)
            )
        )
        is not None
    )


def record_bounce(
    session: Session, events: EventSystem, *, email: str, kind: str, reason: str = ""
) -> dict[str, Any]:
    """Count a bounce; a hard one suppresses the address and tells members (via the outbox)."""
    hard = kind == "hard"
    # Bounce reports quote addresses; the stored reason keeps none (erasure could not find it).
    clean_reason = ADDRESS.sub("<address>", reason)[:500]
    now = datetime.now(UTC)
    statement = insert(Suppression).values(
        email_hash=email_hash(email),
        soft_bounces=0 if hard else 1,
        hard_bounces=1 if hard else 0,
        suppressed_at=now if hard else None,
        last_reason=clean_reason,
    )
    row = session.execute(
        statement.on_conflict_do_update(
            index_elements=[Suppression.email_hash],
            set_={
                "soft_bounces": Suppression.soft_bounces + (0 if hard else 1),
                "hard_bounces": Suppression.hard_bounces + (1 if hard else 0),
                "suppressed_at": func.coalesce(Suppression.suppressed_at, now if hard else None),
                "last_reason": clean_reason,
                "updated_at": now,
            },
        ).returning(Suppression.soft_bounces, Suppression.hard_bounces, Suppression.suppressed_at)
    ).one()
    address = normalise_email(email)
    member_id = session.scalar(
        select(Recipient.member_id).where(Recipient.email == address).limit(1)
    )
    if hard and row.hard_bounces == 1:  # the first hard bounce is news; repeats are not
        events.outbox.add(
            session, AddressBounced(email=address, member_id=member_id, reason=clean_reason)
        )
    return {
        "email": address,
        "kind": kind,
        "suppressed": row.suppressed_at is not None,
        "soft_bounces": row.soft_bounces,
        "hard_bounces": row.hard_bounces,
    }
