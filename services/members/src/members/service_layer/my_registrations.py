"""A member's own gathering registrations: upcoming ones first (soonest first), then the past."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from uskalla_kit.pagination import page_of

from members.adapters.models import Gathering, Registration
from members.service_layer.clock import now
from members.service_layer.views import gathering_url, iso


def my_registrations(
    session: Session, member_id: uuid.UUID, base_url: str, page: int, per_page: int
) -> dict[str, Any]:
    """A page of the member's registrations with their gatherings' details."""
    at = now()
    upcoming = Gathering.ends_at >= at
    total = session.scalar(
        select(func.count()).select_from(Registration).where(Registration.member_id == member_id)
    )
    rows = session.execute(
        select(Registration, Gathering)
        .join(Gathering, Gathering.id == Registration.gathering_id)
        .where(Registration.member_id == member_id)
        .order_by(
            case((upcoming, 0), else_=1),
            # Upcoming: the soonest first; past (NULL here): the latest first.
            case((upcoming, Gathering.starts_at)).asc().nulls_last(),
            Gathering.starts_at.desc(),
            Registration.seq,
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return page_of(
        [registration_view(r, g, base_url, upcoming=g.ends_at >= at) for r, g in rows],
        page,
        per_page,
        total or 0,
    )


def registration_view(
    r: Registration, g: Gathering, base_url: str, *, upcoming: bool
) -> dict[str, Any]:
    return {
        "gathering_id": str(g.id),
        "title": g.title,
        "kind": g.kind,
        "starts_at": iso(g.starts_at),
        "ends_at": iso(g.ends_at),
        "location": g.location,
        "online_url": g.online_url,
        "language": g.language,
        "cancelled": g.status == "cancelled",
        "upcoming": upcoming,
        "status": r.status,
        "registered_at": iso(r.created_at),
        "promoted_at": iso(r.promoted_at),
        "url": gathering_url(base_url, g),
    }
