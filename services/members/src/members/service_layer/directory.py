"""The coordinators' member directory: search and filter the network."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from members.adapters.models import Member
from members.domain.rules import MemberStatus


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def member_query(filters: dict[str, Any]) -> Select[Member]:
    query = select(Member).where(Member.status == (filters.get("status") or MemberStatus.ACTIVE))
    if filters.get("q"):
        pattern = f"%{escape_like(filters['q'].strip())}%"
        query = query.where(
            or_(
                Member.name.ilike(pattern, escape="\\"),
                Member.email.ilike(pattern, escape="\\"),
                Member.organisation.ilike(pattern, escape="\\"),
                Member.title.ilike(pattern, escape="\\"),
            )
        )
    for field in ("municipality_code", "newsletter", "invitations", "role"):
        if filters.get(field) is not None:
            query = query.where(getattr(Member, field) == filters[field])
    return query


def search(
    session: Session, filters: dict[str, Any], page: int | None, per_page: int
) -> tuple[list[Member], int]:
    """Matching members by name, and how many match in all (every one when page is None)."""
    query = member_query(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    query = query.order_by(func.lower(Member.name), Member.id)
    if page is not None:
        query = query.offset((page - 1) * per_page).limit(per_page)
    return list(session.scalars(query).all()), int(total or 0)
