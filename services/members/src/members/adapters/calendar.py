"""A gathering as an iCalendar (RFC 5545) file: the one builder in `uskalla_reference.calendar`."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from uskalla_reference.calendar import CalendarEntry, calendar

from members.adapters.models import Gathering


def gathering_calendar(gathering: Gathering, url: str, stamp: datetime) -> bytes:
    """PUBLISH one VEVENT whose UID stays the same across edits while SEQUENCE grows (the
    builder writes UTC times and makes stored text printable)."""
    entry = CalendarEntry(
        gathering_id=str(gathering.id),
        title=gathering.title,
        starts_at=gathering.starts_at,
        ends_at=gathering.ends_at,
        url=url,
        description=gathering.description or "",
        location=gathering.location,
        online_url=gathering.online_url,
        sequence=gathering.sequence,
        updated_at=gathering.updated_at,
    )
    return calendar([entry], domain=urlsplit(url).hostname or "uskalla", stamp=stamp)
