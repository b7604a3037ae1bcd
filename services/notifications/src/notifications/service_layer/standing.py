"""Members' standing as notifications knows it: each request's token is checked against it."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from uskalla_events import Database
from uskalla_kit.auth import Standing, StandingLookup

from notifications.adapters.models import ErasedMember, Recipient


def is_erased(session: Session, member_id: str | uuid.UUID) -> bool:
    key = member_id if isinstance(member_id, uuid.UUID) else uuid.UUID(member_id)
    return bool(session.scalar(select(exists().where(ErasedMember.member_id == key))))


def standing_lookup(db: Database) -> StandingLookup:
    """The member's standing from the recipient projection (kept by the members events);
    None for a member not heard of yet, or whose role is not known yet (the token stands)."""

    def lookup(member_id: str) -> Standing | None:
        try:
            key = uuid.UUID(member_id)
        except ValueError:
            return None
        with db.transaction() as session:
            row = session.execute(
                select(Recipient.role, Recipient.active).where(Recipient.member_id == key)
            ).first()
            if row is None:
                return Standing(erased=True) if is_erased(session, key) else None
        if row.role is None and row.active:
            return None
        return Standing(role=row.role or "member", active=row.active)

    return lookup
