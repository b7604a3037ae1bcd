"""The delivery log as coordinators read it: no addresses, newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notifications.adapters.models import Delivery

#: What the log can be filtered by (each an exact match).
FILTERS = ("member_id", "kind", "status", "cause")


def delivery_log(
    session: Session, filters: dict[str, Any], page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the log matching `filters`, and how many rows match."""
    query = select(Delivery)
    for key in FILTERS:
        if key in filters:
            query = query.where(getattr(Delivery, key) == filters[key])
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Delivery.created_at.desc(), Delivery.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return [delivery_view(d) for d in rows], total


def delivery_view(d: Delivery) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "member_id": str(d.member_id) if d.member_id else None,
        "kind": d.kind,
        "cause": d.cause,
        "language": d.language,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": d.created_at.isoformat(),
        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        "error": d.error,
    }
