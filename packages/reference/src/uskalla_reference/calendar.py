"""The one iCalendar (RFC 5545, iTIP RFC 5546) form of a gathering: for the download, the
calendar feed and the e-mail attachments alike, so they never disagree.

Times are written in UTC (`DTSTART:20260512T100000Z`), which Outlook, Google and Apple
calendars all place correctly without a VTIMEZONE. The UID is stable per gathering; SEQUENCE
grows with each change people must see (time, place, link, cancellation), so a calendar
replaces its entry rather than adding one. Text is made printable first: whatever was stored,
the result parses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText
from uskalla_kit.text import printable

PRODID = "-//Kuntaliitto//Uskalla MeUskaltajat//FI"
METHODS = ("PUBLISH", "REQUEST", "CANCEL")


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
    sequence: int = 0
    cancelled: bool = False
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Organizer:
    email: str
    name: str = ""


def uid(gathering_id: str, domain: str) -> str:
    """Stable per gathering, so a later update replaces the entry instead of adding one."""
    return f"gathering-{gathering_id}@{domain}"


def event(
    entry: CalendarEntry,
    *,
    domain: str,
    stamp: datetime,
    organizer: Organizer | None = None,
    attendee: str | None = None,
) -> Event:
    """One VEVENT. ORGANIZER (and the ATTENDEE it is sent to) go on iTIP messages only."""
    item = Event()
    item.add("uid", uid(entry.gathering_id, domain))
    item.add("dtstamp", stamp.astimezone(UTC))
    item.add("dtstart", entry.starts_at.astimezone(UTC))
    item.add("dtend", entry.ends_at.astimezone(UTC))
    item.add("summary", printable(entry.title))
    parts = (entry.description, entry.online_url, entry.url)
    item.add("description", printable("\n\n".join(p for p in parts if p)))
    where = ", ".join(p for p in (entry.location, entry.online_url) if p)
    if where:
        item.add("location", printable(where))
    item.add("url", entry.url)
    item.add("sequence", entry.sequence)
    if entry.updated_at is not None:
        item.add("last-modified", entry.updated_at.astimezone(UTC))
    item.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    if organizer is not None:
        who = vCalAddress(f"mailto:{organizer.email}")
        if organizer.name:
            who.params["cn"] = vText(printable(organizer.name))
        item.add("organizer", who)
        if attendee:
            guest = vCalAddress(f"mailto:{attendee}")
            guest.params["partstat"] = vText("ACCEPTED")
            guest.params["rsvp"] = vText("FALSE")
            item.add("attendee", guest, encode=False)
    return item


def calendar(
    entries: Iterable[CalendarEntry],
    *,
    domain: str,
    method: str = "PUBLISH",
    stamp: datetime | None = None,
    organizer: Organizer | None = None,
    attendee: str | None = None,
    name: str | None = None,
) -> bytes:
    """A VCALENDAR of `entries`. REQUEST and CANCEL (RFC 5546) need the organizer; a
    cancellation's entries are marked cancelled whatever they say."""
    if method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    if method != "PUBLISH" and organizer is None:
        raise ValueError(f"{method} needs an organizer (RFC 5546)")
    moment = stamp or datetime.now(UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    if name:
        cal.add("x-wr-calname", printable(name))
    for entry in entries:
        cal.add_component(
            event(
                replace(entry, cancelled=True) if method == "CANCEL" else entry,
                domain=domain,
                stamp=moment,
                organizer=organizer if method != "PUBLISH" else None,
                attendee=attendee if method != "PUBLISH" else None,
            )
        )
    result: bytes = cal.to_ical()
    return result
