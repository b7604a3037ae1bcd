"""Registrations: places up to the capacity, then an ordered waitlist promoted on cancelling.

Every change to a gathering's registrations first locks the gathering's row, so counting the
places and taking one happen as one step: parallel registrations never exceed the capacity.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from uskalla_events.outbox import Outbox
from uskalla_events.vocabulary import RegistrationStatus
from uskalla_kit import Problem, validation_problem

from members.adapters.models import Gathering, Member, Registration
from members.domain.gatherings import (
    free_places,
    not_registered,
    place_for,
    registration_closes_at,
)
from members.service_layer import events
from members.service_layer.clock import now
from members.service_layer.views import iso


def not_found() -> Problem:
    return Problem(404, "Not found", "No such gathering.")


def locked_gathering(session: Session, gathering_id: uuid.UUID) -> Gathering:
    """The gathering's row, locked until the transaction ends (404 if there is none)."""
    gathering = session.scalar(
        select(Gathering).where(Gathering.id == gathering_id).with_for_update()
    )
    if gathering is None:
        raise not_found()
    return gathering


class Registrations:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def register(self, session: Session, gathering_id: uuid.UUID, member: Member) -> str:
        """A place, or one in the waitlist when full; `registered` or `waitlisted`."""
        gathering = locked_gathering(session, gathering_id)
        if gathering.status == "cancelled":
            raise Problem(409, "Conflict", "The gathering is cancelled.")
        if gathering.status != "published":
            raise not_found()
        closes = registration_closes_at(gathering.starts_at, gathering.registration_deadline)
        if now() > closes:
            raise Problem(
                422,
                "Registration closed",
                f"Registration for this gathering closed at {iso(closes)}.",
                errors={"registration_deadline": ["Registration has closed."]},
            )
        if self.registration_of(session, gathering.id, member.id) is not None:
            raise Problem(409, "Conflict", "You are already registered for this gathering.")
        registered, _ = self.counts(session, [gathering.id])[gathering.id]
        status = place_for(gathering.capacity, registered)
        session.add(
            Registration(
                id=uuid.uuid4(),
                gathering_id=gathering.id,
                member_id=member.id,
                status=status,
                created_at=now(),
            )
        )
        session.flush()
        self.changed(session, gathering, member.id, RegistrationStatus(status))
        return status

    def cancel(self, session: Session, gathering_id: uuid.UUID, member: Member) -> None:
        gathering = locked_gathering(session, gathering_id)
        if gathering.status != "published":
            raise not_found()
        if not self.release(session, gathering, member.id, tell=True):
            raise Problem(404, "Not found", "You are not registered for this gathering.")

    def release(
        self, session: Session, gathering: Gathering, member_id: uuid.UUID, *, tell: bool
    ) -> bool:
        """Give up a member's place (the gathering is locked); promote the waitlist. Found?"""
        result = session.execute(
            delete(Registration)
            .where(Registration.gathering_id == gathering.id, Registration.member_id == member_id)
            .returning(Registration.status)
        ).first()
        if result is None:
            return False
        if tell:
            self.changed(session, gathering, member_id, RegistrationStatus.CANCELLED)
        self.promote(session, gathering)
        return True

    def promote(self, session: Session, gathering: Gathering) -> None:
        """Move the first in the waitlist into the free places, in the order they came."""
        registered, waitlisted = self.counts(session, [gathering.id])[gathering.id]
        places = free_places(gathering.capacity, registered, waitlisted)
        if not places:
            return
        chosen = session.scalars(
            select(Registration)
            .where(Registration.gathering_id == gathering.id, Registration.status == "waitlisted")
            .order_by(Registration.seq)
            .limit(places)
        ).all()
        for registration in chosen:
            registration.status = "registered"
            registration.promoted_at = now()
            self.changed(session, gathering, registration.member_id, RegistrationStatus.PROMOTED)
        session.flush()

    def counts(
        self, session: Session, gathering_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[int, int]]:
        """(registered, waitlisted) for each gathering."""
        result: dict[uuid.UUID, tuple[int, int]] = {g: (0, 0) for g in gathering_ids}
        rows = session.execute(
            select(Registration.gathering_id, Registration.status, func.count())
            .where(Registration.gathering_id.in_(gathering_ids))
            .group_by(Registration.gathering_id, Registration.status)
        )
        for gathering_id, status, count in rows:
            registered, waitlisted = result[gathering_id]
            if status == "registered":
                registered = int(count)
            else:
                waitlisted = int(count)
            result[gathering_id] = (registered, waitlisted)
        return result

    def registration_of(
        self, session: Session, gathering_id: uuid.UUID, member_id: uuid.UUID
    ) -> str | None:
        return session.scalar(
            select(Registration.status).where(
                Registration.gathering_id == gathering_id, Registration.member_id == member_id
            )
        )

    def registrants(
        self, session: Session, gathering_id: uuid.UUID, page: int | None, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Who is coming (registered first, then the waitlist in order), and how many in all."""
        if session.get(Gathering, gathering_id) is None:
            raise not_found()
        position = func.row_number().over(
            partition_by=Registration.status, order_by=Registration.seq
        )
        query = (
            select(Registration, Member, position.label("position"))
            .join(Member, Member.id == Registration.member_id)
            .where(Registration.gathering_id == gathering_id)
            .order_by(Registration.status, Registration.seq)
        )
        total = session.scalar(
            select(func.count())
            .select_from(Registration)
            .where(Registration.gathering_id == gathering_id)
        )
        if page is not None:
            query = query.offset((page - 1) * per_page).limit(per_page)
        rows = [
            {
                "member_id": str(member.id),
                "name": member.name,
                "email": member.email,
                "organisation": member.organisation,
                "municipality_code": member.municipality_code,
                "status": registration.status,
                "position": int(pos),
                "registered_at": iso(registration.created_at),
                "attended": registration.attended,
            }
            for registration, member, pos in session.execute(query)
        ]
        return rows, int(total or 0)

    def mark_attendance(
        self, session: Session, gathering: Gathering, attended: list[uuid.UUID]
    ) -> dict[str, Any]:
        """Who of the registered came (the gathering is locked): those named attended, every
        other registered member not; naming anyone not registered changes nothing (422)."""
        registered = self._registered(session, gathering.id)
        strangers = not_registered([str(m) for m in attended], {str(m) for m in registered})
        if strangers:
            raise validation_problem(
                {"attended": [f"Not registered for the gathering: {', '.join(strangers)}."]}
            )
        session.execute(
            update(Registration)
            .where(Registration.gathering_id == gathering.id, Registration.status == "registered")
            .values(attended=Registration.member_id.in_(set(attended)))
        )
        return self.attendance(session, gathering)

    def attendance(self, session: Session, gathering: Gathering) -> dict[str, Any]:
        """The registered members marked attended, how many were registered, and whether
        attendance has been marked at all."""
        rows = session.execute(
            select(Registration.member_id, Registration.attended)
            .where(Registration.gathering_id == gathering.id, Registration.status == "registered")
            .order_by(Registration.seq)
        ).all()
        return {
            "gathering_id": str(gathering.id),
            "registered": len(rows),
            "attended": [str(member_id) for member_id, came in rows if came],
            "marked": any(came is not None for _, came in rows),
        }

    def attended_counts(
        self, session: Session, gathering_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, int | None]:
        """How many came to each gathering; None where attendance has not been marked."""
        result: dict[uuid.UUID, int | None] = dict.fromkeys(gathering_ids)
        rows = session.execute(
            select(
                Registration.gathering_id,
                func.count().filter(Registration.attended.is_(True)),
                func.count(Registration.attended),
            )
            .where(Registration.gathering_id.in_(gathering_ids))
            .group_by(Registration.gathering_id)
        )
        for gathering_id, came, marked in rows:
            result[gathering_id] = int(came) if marked else None
        return result

    def _registered(self, session: Session, gathering_id: uuid.UUID) -> list[uuid.UUID]:
        return list(
            session.scalars(
                select(Registration.member_id).where(
                    Registration.gathering_id == gathering_id,
                    Registration.status == "registered",
                )
            )
        )

    def changed(
        self,
        session: Session,
        gathering: Gathering,
        member_id: uuid.UUID,
        status: RegistrationStatus,
    ) -> None:
        self.outbox.add(session, events.registration_changed(gathering, member_id, status))
