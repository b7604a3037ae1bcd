"""A gathering as an iCalendar (RFC 5545) file that common calendar programs import."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from icalendar import Calendar, Event
from uskalla_kit.text import printable

from members.adapters.models import Gathering

PRODID = "-//Kuntaliitto//Uskalla MeUskaltajat//FI"


def gathering_calendar(gathering: Gathering, url: str, stamp: datetime) -> bytes:
    """One VEVENT; times in UTC; the UID stays the same across edits, SEQUENCE grows.

    Text goes through `printable`: RFC 5545 allows no control characters but tab in a value,
    and rows stored before text refused them may hold some."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    host = urlsplit(url).hostname or "uskalla"
    event.add("uid", f"gathering-{gathering.id}@{host}")
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", gathering.starts_at.astimezone(UTC))
    event.add("dtend", gathering.ends_at.astimezone(UTC))
    event.add("summary", printable(gathering.title))
    if gathering.description:
        event.add("description", f"{printable(gathering.description)}\n\n{url}")
    else:
        event.add("description", url)
    location = ", ".join(printable(p) for p in (gathering.location, gathering.online_url) if p)
    event.add("location", location)
    event.add("url", url)
    event.add("sequence", gathering.sequence)
    event.add("last-modified", gathering.updated_at.astimezone(UTC))
    event.add("status", "CONFIRMED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())
