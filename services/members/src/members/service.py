"""Members use cases: each one transaction, its events written to the outbox in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from uskalla_events import EventSystem
from uskalla_kit import Problem

from members.adapters.models import Member
from members.config import Settings
from members.domain.tokens import new_token, token_hash


def now() -> datetime:
    return datetime.now(UTC)


def member_view(m: Member) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "email": m.email,
        "name": m.name,
        "organisation": m.organisation,
        "municipality_code": m.municipality_code,
        "title": m.title,
        "language": m.language,
        "newsletter": m.newsletter,
        "invitations": m.invitations,
        "role": m.role,
        "joined_at": m.joined_at.isoformat() if m.joined_at else None,
    }


def joined_payload(m: Member) -> dict[str, Any]:
    view = member_view(m)
    return {
        "member_id": view["id"],
        **{
            k: view[k]
            for k in (
                "email",
                "name",
                "language",
                "organisation",
                "municipality_code",
                "newsletter",
                "invitations",
                "role",
                "joined_at",
            )
        },
    }


class MembersService:
    def __init__(self, settings: Settings, events: EventSystem) -> None:
        self.settings = settings
        self.events = events

    def join(self, session: Session, data: dict[str, Any]) -> None:
        """Register or re-register; the same outcome for the caller whether the address is known."""
        email = data["email"].lower()
        member = session.scalar(select(Member).where(Member.email == email).with_for_update())
        if member is not None and member.status == "active":
            self.events.outbox.add(
                session,
                "members.member.registered.v1",
                {
                    "member_id": str(member.id),
                    "email": member.email,
                    "name": member.name,
                    "language": member.language,
                    "already_member": True,
                },
            )
            return
        token, hashed = new_token()
        if member is None:
            member = Member(id=uuid.uuid4(), email=email)
            session.add(member)
        for field in (
            "name",
            "organisation",
            "municipality_code",
            "title",
            "language",
            "newsletter",
            "invitations",
        ):
            setattr(member, field, data.get(field))
        member.organisation = data.get("organisation") or ""
        member.status = "pending"
        member.role = "member"
        member.consent_at = now()
        member.privacy_notice_version = self.settings.privacy_notice_version
        member.confirm_token_hash = hashed
        member.confirm_expires_at = now() + timedelta(days=self.settings.confirm_ttl_days)
        session.flush()
        self.events.outbox.add(
            session,
            "members.member.registered.v1",
            {
                "member_id": str(member.id),
                "email": member.email,
                "name": member.name,
                "language": member.language,
                "token": token,
            },
        )

    def confirm(self, session: Session, token: str) -> Member:
        """Activate the member the token names; repeating it is harmless."""
        member = session.scalar(
            select(Member).where(Member.confirm_token_hash == token_hash(token)).with_for_update()
        )
        if member is None or member.confirm_expires_at is None or member.confirm_expires_at < now():
            raise Problem(400, "Invalid token", "The confirmation link is unknown or has expired.")
        if member.status == "pending":
            member.status = "active"
            member.joined_at = now()
            if member.email in self.settings.bootstrap_coordinators:
                member.role = "coordinator"
            session.flush()
            self.events.outbox.add(session, "members.member.joined.v1", joined_payload(member))
        return member


def service_of(runtime: Any) -> MembersService:
    service: MembersService = runtime.extra["service"]
    return service
