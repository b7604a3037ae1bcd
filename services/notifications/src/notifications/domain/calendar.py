"""A gathering as an iCalendar (RFC 5545) event to attach to e-mails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText
from uskalla_kit.text import printable


@dataclass(frozen=True)
class CalendarEntry:
    gathering_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    url: str
    description: str = ""
    location: str | None = None
    online_url: str | None = None


def uid(gathering_id: str, domain: str) -> str:
    """Stable per gathering, so a later update replaces the entry instead of adding one."""
    return f"gathering-{gathering_id}@{domain}"


def ics(
    entry: CalendarEntry,
    *,
    domain: str,
    method: str = "PUBLISH",
    organizer: str | None = None,
    attendee: str | None = None,
    stamp: datetime | None = None,
) -> bytes:
    """The entry as a VCALENDAR; REQUEST (a registration) names organizer and attendee.

    Text is `printable`: a control character stored before they were refused would make
    content lines no calendar program has to read (RFC 5545 3.3.11)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Kuntaliitto//Uskalla//FI")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid(entry.gathering_id, domain))
    event.add("dtstamp", (stamp or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", entry.starts_at.astimezone(UTC))
    event.add("dtend", entry.ends_at.astimezone(UTC))
    event.add("summary", printable(entry.title))
    event.add("url", printable(entry.url))
    event.add("sequence", 0)
    description = "\n\n".join(p for p in (entry.description, entry.online_url, entry.url) if p)
    event.add("description", printable(description))
    where = entry.location or entry.online_url
    if where:
        event.add("location", printable(where))
    if method == "REQUEST" and organizer and attendee:
        event.add("organizer", vCalAddress(f"mailto:{organizer}"))
        guest = vCalAddress(f"mailto:{attendee}")
        guest.params["partstat"] = vText("ACCEPTED")
        guest.params["rsvp"] = vText("FALSE")
        event.add("attendee", guest, encode=False)
        event.add("status", "CONFIRMED")
    calendar.add_component(event)
    result: bytes = calendar.to_ical()
    return result
