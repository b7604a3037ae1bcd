"""Who is acting: the signed-in caller's member row, with its current role and state.

The token says who the caller is; the database says what they may do now. So a demoted or
deactivated coordinator loses their rights here at once, not when their token expires.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session
from uskalla_kit import Problem, current_identity, no_such_member, require_identity

from members.adapters.models import Member
from members.domain.rules import MemberStatus


def acting_member(session: Session, role: str | None = None, *, lock: str = "") -> Member:
    """The caller's active member row (401 signed out or unknown, 403 deactivated or no role).

    lock="share" keeps the row from being erased until the transaction ends; lock="update"
    takes it for changing. Every use case locks the member before any gathering, so the two
    kinds of lock are always taken in the same order (no deadlocks).
    """
    identity = require_identity(role)
    try:
        member_id = uuid.UUID(identity.member_id)
    except ValueError:
        raise Problem(401, "Unauthorized", "The token names no member.") from None
    query = select(Member).where(Member.id == member_id)
    if lock == "share":
        query = query.with_for_update(read=True, key_share=True)
    elif lock == "update":
        query = query.with_for_update()
    member = session.scalar(query)
    if member is None or member.status == MemberStatus.PENDING:
        raise no_such_member()
    if member.status != MemberStatus.ACTIVE:
        raise Problem(403, "Forbidden", "This membership has been deactivated.")
    if role == "coordinator" and member.role != "coordinator":
        raise Problem(403, "Forbidden", "Only coordinators may do this.")
    return member


def is_coordinator(session: Session) -> bool:
    """Whether the caller, if signed in at all, is an active coordinator (no error if not)."""
    identity = current_identity()
    if identity is None or not identity.is_coordinator:
        return False
    try:
        member_id = uuid.UUID(identity.member_id)
    except ValueError:
        return False
    member = session.get(Member, member_id)
    return (
        member is not None and member.status == MemberStatus.ACTIVE and member.role == "coordinator"
    )
