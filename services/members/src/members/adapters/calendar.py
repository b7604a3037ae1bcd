"""Gatherings as iCalendar (RFC 5545): the one builder in `uskalla_reference.calendar`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from uskalla_reference.calendar import CalendarEntry, calendar

from members.adapters.models import Gathering

#: The subscribed calendar's name in calendar programs.
FEED_NAME = "MeUskaltajat"


def entry(gathering: Gathering, url: str) -> CalendarEntry:
    """One gathering as a VEVENT: the UID stays the same across edits while SEQUENCE grows."""
    return CalendarEntry(
        gathering_id=str(gathering.id),
        title=gathering.title,
        starts_at=gathering.starts_at,
        ends_at=gathering.ends_at,
        url=url,
        description=gathering.description or "",
        location=gathering.location,
        online_url=gathering.online_url,
        sequence=gathering.sequence,
        cancelled=gathering.status == "cancelled",
        updated_at=gathering.updated_at,
    )


def gathering_calendar(gathering: Gathering, url: str, stamp: datetime) -> bytes:
    """PUBLISH one VEVENT (the builder writes UTC times and makes stored text printable)."""
    return calendar(
        [entry(gathering, url)], domain=urlsplit(url).hostname or "uskalla", stamp=stamp
    )


def calendar_feed(
    gatherings: Sequence[tuple[Gathering, str]], base_url: str, stamp: datetime
) -> bytes:
    """PUBLISH every (gathering, its page) given, cancelled ones with STATUS:CANCELLED."""
    return calendar(
        [entry(g, url) for g, url in gatherings],
        domain=urlsplit(base_url).hostname or "uskalla",
        stamp=stamp,
        name=FEED_NAME,
    )
