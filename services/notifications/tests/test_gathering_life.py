"""A gathering's later life in notifications: changes and cancellations told to whoever is
registered or waitlisted, every later mail with the current details and SEQUENCE, reminders
scheduled once however many schedulers race."""

from __future__ import annotations

import email
import email.policy
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar
from notifications.adapters.models import Delivery, GatheringRegistration
from sqlalchemy import func, select
from uskalla_events import TemporaryFailure

from .conftest import Service

BASE = "https://uskalla.test"


def published(gathering_id: str, starts_at: datetime, **extra: object) -> dict[str, Any]:
    return {
        "gathering_id": gathering_id,
        "title": "Foorumi",
        "kind": "forum",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
        "location": "Kuntatalo, Helsinki",
        "online_url": None,
        "language": "fi",
        "description": "",
        "sequence": 0,
    } | extra


def registration(gathering_id: str, member: uuid.UUID, status: str) -> dict[str, Any]:
    return {
        "gathering_id": gathering_id,
        "member_id": str(member),
        "status": status,
        "title": "Foorumi",
        "starts_at": "2027-03-10T10:00:00Z",
    }


def calendar_of(service: Service, mail: dict[str, Any]) -> tuple[str, Any]:
    """The iTIP method and the one VEVENT of a mail's calendar attachment."""
    raw = email.message_from_bytes(service.sink.store.raw(mail["id"]), policy=email.policy.default)
    [part] = list(raw.iter_attachments())
    body = part.get_content()
    parsed = Calendar.from_ical(body if isinstance(body, str) else body.decode())
    [event] = parsed.walk("VEVENT")
    assert str(parsed["METHOD"]) == part.get_param("method")
    return str(parsed["METHOD"]), event


def with_subject(service: Service, to: str, part: str) -> list[dict[str, Any]]:
    service.tasks.drain()
    return [m for m in service.mails(to) if part in m["subject"]]


def setup(service: Service, starts_at: datetime) -> tuple[str, dict[str, uuid.UUID]]:
    """A published gathering with a registered (fi), a waitlisted (sv) and a cancelled (en)."""
    gid = str(uuid.uuid4())
    people = {
        status: service.add_recipient(
            email=f"{status}@example.fi", language=language, name=status, invitations=False
        )
        for status, language in (("registered", "fi"), ("waitlisted", "sv"), ("gone", "en"))
    }
    service.handle("members.gathering.published.v1", published(gid, starts_at))
    service.handle(
        "members.registration.changed.v1", registration(gid, people["registered"], "registered")
    )
    service.handle(
        "members.registration.changed.v1", registration(gid, people["waitlisted"], "waitlisted")
    )
    service.handle(
        "members.registration.changed.v1", registration(gid, people["gone"], "registered")
    )
    service.handle(
        "members.registration.changed.v1", registration(gid, people["gone"], "cancelled")
    )
    service.tasks.drain()
    return gid, people


def test_a_new_time_is_told_with_a_higher_sequence_and_later_mail_says_it(service: Service) -> None:
    start = datetime(2027, 3, 10, 10, tzinfo=UTC)
    gid, _ = setup(service, start)
    moved = start + timedelta(days=1)
    change = published(gid, moved, online_url="https://meet.example.fi/f", sequence=2) | {
        "changed": ["starts_at", "ends_at", "online_url"]
    }
    service.handle("members.gathering.changed.v1", change)
    [fi] = with_subject(service, "registered@example.fi", "Muutos: Foorumi")
    [sv] = with_subject(service, "waitlisted@example.fi", "Ändrat: Foorumi")
    assert with_subject(service, "gone@example.fi", "Changed") == []
    assert "https://meet.example.fi/f" in fi["text"] and "11.3.2027" in fi["text"]
    for mail, to in ((fi, "registered@example.fi"), (sv, "waitlisted@example.fi")):
        method, event = calendar_of(service, mail)
        assert method == "REQUEST" and int(event["SEQUENCE"]) == 2
        assert str(event["UID"]) == f"gathering-{gid}@uskalla.test"
        assert event.decoded("DTSTART") == moved and str(event["ATTENDEE"]) == f"mailto:{to}"
    # The same event again, or an older one arriving late, changes and mails nothing.
    service.handle("members.gathering.changed.v1", change)
    service.handle("members.gathering.published.v1", published(gid, start))
    assert len(with_subject(service, "registered@example.fi", "Muutos")) == 1
    # A title alone is not told, but later mail says it and the current time.
    service.handle(
        "members.gathering.changed.v1",
        change | {"title": "Foorumi 2", "sequence": 3, "changed": ["title"]},
    )
    assert len(with_subject(service, "registered@example.fi", "Muutos")) == 1
    late = service.add_recipient(email="late@example.fi", language="en", invitations=False)
    service.handle(
        "members.registration.changed.v1",
        registration(gid, late, "registered") | {"title": "Foorumi 2"},
    )
    [notice] = with_subject(service, "late@example.fi", "confirmed")
    method, event = calendar_of(service, notice)
    assert method == "REQUEST" and int(event["SEQUENCE"]) == 3
    assert event.decoded("DTSTART") == moved and str(event["SUMMARY"]) == "Foorumi 2"


def test_a_cancellation_reaches_registered_and_waitlisted_once(service: Service) -> None:
    start = datetime(2027, 3, 10, 10, tzinfo=UTC)
    gid, _ = setup(service, start)
    service.handle("members.gathering.cancelled.v1", {"gathering_id": gid, "sequence": 1})
    service.handle("members.gathering.cancelled.v1", {"gathering_id": gid, "sequence": 1})
    [fi] = with_subject(service, "registered@example.fi", "Peruttu: Foorumi")
    [sv] = with_subject(service, "waitlisted@example.fi", "Inställt: Foorumi")
    assert with_subject(service, "gone@example.fi", "Cancelled") == []
    for mail in (fi, sv):
        method, event = calendar_of(service, mail)
        assert method == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == 1 and event.decoded("DTSTART") == start
        assert str(event["UID"]) == f"gathering-{gid}@uskalla.test" and "ORGANIZER" in event


def test_a_cancellation_before_its_gathering_is_known_waits(service: Service) -> None:
    gid = str(uuid.uuid4())
    with pytest.raises(TemporaryFailure):
        service.handle("members.gathering.cancelled.v1", {"gathering_id": gid, "sequence": 1})
    assert service.mails() == []


def reminders_of(service: Service) -> int:
    with service.runtime.db.transaction() as session:
        return int(
            session.scalar(select(func.count()).where(Delivery.kind == "gathering_reminder")) or 0
        )


def test_reminders_once_each_for_the_registered_even_with_racing_schedulers(
    service: Service,
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    gid, _ = setup(service, soon)
    far = str(uuid.uuid4())
    service.handle("members.gathering.published.v1", published(far, soon + timedelta(days=3)))
    reminders = service.runtime.extra["services"].reminders
    results: list[int] = []
    racers = [threading.Thread(target=lambda: results.append(reminders.remind())) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sum(results) == 1 and reminders_of(service) == 1
    assert reminders.remind() == 0
    [mail] = with_subject(service, "registered@example.fi", "Muistutus: Foorumi")
    assert with_subject(service, "waitlisted@example.fi", "Påminnelse") == []
    assert with_subject(service, "gone@example.fi", "Reminder") == []
    method, event = calendar_of(service, mail)
    assert method == "REQUEST" and event.decoded("DTSTART") == soon
    # Moved to another time within the window: reminded again, of the new time.
    moved = soon + timedelta(hours=1)
    service.handle(
        "members.gathering.changed.v1",
        published(gid, moved, sequence=1) | {"changed": ["starts_at", "ends_at"]},
    )
    assert reminders.remind() == 1
    # Cancelled: no reminder.
    service.handle("members.gathering.cancelled.v1", {"gathering_id": gid, "sequence": 2})
    service.handle(
        "members.gathering.changed.v1",
        published(gid, moved + timedelta(hours=1), sequence=3) | {"changed": ["starts_at"]},
    )
    assert reminders.remind() == 0


def test_erasure_forgets_registrations(service: Service) -> None:
    gid, people = setup(service, datetime.now(UTC) + timedelta(hours=2))
    service.handle("members.member.erased.v1", {"member_id": str(people["registered"])})
    with service.runtime.db.transaction() as session:
        kept = session.scalars(
            select(GatheringRegistration.member_id).where(
                GatheringRegistration.gathering_id == uuid.UUID(gid)
            )
        ).all()
    assert sorted(kept) == sorted([people["waitlisted"], people["gone"]])
    assert service.runtime.extra["services"].reminders.remind() == 0
