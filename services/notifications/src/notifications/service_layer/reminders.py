"""Reminders: each registered member is e-mailed once, `REMINDER_HOURS` before the start.

The relay's beat is the scheduler: each beat finds the registrations whose gathering starts
within the next `REMINDER_HOURS` and that have no reminder yet, and schedules one delivery
each. Exactly once, however many relays run: the delivery's cause names the gathering and its
start, and the unique (kind, address, cause) key decides (`INSERT ... ON CONFLICT DO NOTHING`:
a racing relay waits for the other's row and inserts nothing). A gathering moved to another
time is a new cause, so its registrants are reminded of the new time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import String, cast, exists, func, select
from sqlalchemy.orm import Session
from uskalla_events import Database

from notifications.adapters.models import Delivery, Gathering, GatheringRegistration, Recipient
from notifications.config import Settings
from notifications.service_layer.network import Network

KIND = "gathering_reminder"
#: Registrations reminded per transaction (the next beat goes on).
BATCH = 500


def reminder_cause(gathering: Gathering) -> str:
    """`{gathering id}@{start in UTC}`: one reminder per gathering and start time."""
    return f"{gathering.gathering_id}@{gathering.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


#: The same, in SQL, to find who has no reminder yet.
CAUSE = func.concat(
    cast(Gathering.gathering_id, String),
    "@",
    func.to_char(func.timezone("UTC", Gathering.starts_at), 'YYYYMMDD"T"HH24MISS"Z"'),
)


class Reminders:
    def __init__(self, settings: Settings, db: Database, network: Network) -> None:
        self.hours = settings.reminder_hours
        self.db = db
        self.network = network

    def due(self, session: Session, moment: datetime) -> list[tuple[Gathering, Recipient]]:
        """Registered members of gatherings starting within the window, not reminded yet."""
        reminded = exists(
            select(Delivery.id).where(
                Delivery.kind == KIND, Delivery.cause == CAUSE, Delivery.email == Recipient.email
            )
        )
        rows = session.execute(
            select(Gathering, Recipient)
            .join(
                GatheringRegistration,
                GatheringRegistration.gathering_id == Gathering.gathering_id,
            )
            .join(Recipient, Recipient.member_id == GatheringRegistration.member_id)
            .where(
                Gathering.cancelled.is_(False),
                Gathering.starts_at > moment,
                Gathering.starts_at <= moment + timedelta(hours=self.hours),
                GatheringRegistration.status == "registered",
                Recipient.active.is_(True),
                ~reminded,
            )
            .order_by(Gathering.starts_at, Recipient.member_id)
            .limit(BATCH)
        ).all()
        return [(g, r) for g, r in rows]

    def remind(self) -> int:
        """A relay job: schedule the reminders that are due; how many were new."""
        with self.db.transaction() as session:
            scheduled = 0
            for gathering, member in self.due(session, datetime.now(UTC)):
                cause = reminder_cause(gathering)
                if self.network.mail_about(
                    session, gathering, member, KIND, cause=cause, status="registered"
                ):
                    scheduled += 1
        return scheduled
