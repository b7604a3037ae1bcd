"""The iCalendar entry stays well-formed whatever text was stored before control characters
were refused: a calendar program that parses strictly still reads it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from icalendar import Calendar
from notifications.domain.calendar import CalendarEntry, ics

#: What RFC 5545 (3.1, 3.3.11) lets no content line hold: controls but HTAB (the line break
#: is CRLF between lines), and what is not a Unicode character.
FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ufffe\uffff]")


def test_stored_control_characters_leave_a_valid_calendar() -> None:
    entry = CalendarEntry(
        gathering_id="7d5e0f3c-0c5e-4c59-9a59-2c1f5bb0e2a1",
        title="Foorumi\x07\x1b[31m\x00 punainen\x0b",
        starts_at=datetime(2027, 5, 20, 9, tzinfo=UTC),
        ends_at=datetime(2027, 5, 20, 12, tzinfo=UTC),
        url="https://uskalla.test/gatherings/7d5e0f3c-0c5e-4c59-9a59-2c1f5bb0e2a1",
        description="Ohjelma\x08\x7f\x85\ufffe\r\nrivi\rkaksi",
        location="Kuntatalo\x0c, Helsinki",
    )
    data = ics(
        entry, domain="uskalla.test", method="REQUEST", organizer="a@x.fi", attendee="b@x.fi"
    )

    lines = data.decode("utf-8").split("\r\n")
    assert lines[-1] == ""
    for line in lines[:-1]:
        assert not FORBIDDEN.search(line), repr(line)
    [event] = Calendar.from_ical(data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Foorumi[31m punainen"
    assert str(event["LOCATION"]) == "Kuntatalo, Helsinki"
    assert str(event["DESCRIPTION"]).startswith("Ohjelma\nrivikaksi\n\nhttps://uskalla.test/")
