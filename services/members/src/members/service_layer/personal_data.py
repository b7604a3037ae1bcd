"""Personal data: what members holds about a person, erasing it, and forgetting the unconfirmed.

Erasure deletes the member's row (their interests are on it; registrations and sign-in links
go with it, the waitlists they held a place in move on), the outbox rows that carried their
address or name and their requests still waiting in the intake, then tells the other services
with `members.member.erased.v1`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.orm import Session
from uskalla_events import EventTables
from uskalla_events.contracts import MemberErased
from uskalla_events.outbox import Outbox
from uskalla_kit import Problem
from uskalla_kit.text import normalise_email

from members.adapters.models import Gathering, Member, Registration
from members.domain.rules import MemberStatus
from members.service_layer.clock import now
from members.service_layer.intake import IntakeQueue
from members.service_layer.interests import interests_view
from members.service_layer.registrations import Registrations, locked_gathering
from members.service_layer.views import iso, member_view


class PersonalData:
    def __init__(
        self,
        outbox: Outbox,
        tables: EventTables,
        registrations: Registrations,
        intake: IntakeQueue,
    ) -> None:
        self.outbox = outbox
        self.tables = tables
        self.registrations = registrations
        self.intake = intake

    def export(self, session: Session, member_id: uuid.UUID) -> dict[str, Any]:
        member = session.get(Member, member_id)
        if member is None:
            raise Problem(404, "Not found", "No such member.")
        registrations = session.execute(
            select(Registration, Gathering)
            .join(Gathering, Gathering.id == Registration.gathering_id)
            .where(Registration.member_id == member_id)
            .order_by(Registration.seq)
        )
        return {
            "member": {
                **member_view(member),
                "status": member.status,
                "created_at": iso(member.created_at),
                "updated_at": iso(member.updated_at),
                "undeliverable": member.undeliverable,
                "consent": {
                    "given_at": iso(member.consent_at),
                    "privacy_notice_version": member.privacy_notice_version,
                },
            },
            "interests": interests_view(member),
            "registrations": [
                {
                    "gathering_id": str(gathering.id),
                    "title": gathering.title,
                    "starts_at": iso(gathering.starts_at),
                    "status": registration.status,
                    "registered_at": iso(registration.created_at),
                    "promoted_at": iso(registration.promoted_at),
                    "attended": registration.attended,
                }
                for registration, gathering in registrations
            ],
        }

    def erase(self, session: Session, member: Member) -> None:
        """Erase a member (locked by the caller) here, and tell the other services to."""
        gathering_ids = session.scalars(
            select(Registration.gathering_id)
            .where(Registration.member_id == member.id)
            .order_by(Registration.gathering_id)
        ).all()
        for gathering_id in gathering_ids:
            gathering = locked_gathering(session, gathering_id)
            # No notice to the erased person; those promoted in their place are told.
            self.registrations.release(session, gathering, member.id, tell=False)
        self.forget(session, member)

    def forget(self, session: Session, member: Member) -> None:
        member_id, email = member.id, member.email
        session.delete(member)
        session.flush()
        self.scrub_events(session, member_id, email)
        self.intake.forget(session, email)
        self.outbox.add(session, MemberErased(member_id=member_id))

    def scrub_events(self, session: Session, member_id: uuid.UUID, email: str) -> None:
        """Delete kept and pending events about the member (their address, name, tokens)."""
        for table in (self.tables.outbox, self.tables.dead_letters):
            envelope = table.c.envelope
            session.execute(
                delete(table).where(
                    or_(
                        envelope["data"]["member_id"].astext == str(member_id),
                        func.strpos(func.lower(cast(envelope, String)), normalise_email(email)) > 0,
                    )
                )
            )

    def remove_expired_pending(self, session: Session, limit: int = 200) -> int:
        """Forget people who never confirmed joining before their link expired."""
        expired = session.scalars(
            select(Member)
            .where(Member.status == MemberStatus.PENDING, Member.confirm_expires_at < now())
            .order_by(Member.confirm_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for member in expired:
            # Notifications holds their address from the confirmation e-mail: erase it there too.
            self.forget(session, member)
        return len(expired)
