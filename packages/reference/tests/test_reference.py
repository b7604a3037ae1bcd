"""The shared facts: municipalities, gathering words and times, the one iCalendar builder."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from uskalla_reference.calendar import CalendarEntry, Organizer, calendar, uid
from uskalla_reference.gatherings import KINDS, kind_name, when
from uskalla_reference.municipalities import municipalities, municipality_codes, region_codes

START = datetime(2026, 5, 12, 10, 0, tzinfo=UTC)
ENTRY = CalendarEntry(
    gathering_id="5d9f0c1e-0000-4000-8000-000000000001",
    title="Tarinapaja\x01 Tampereella",
    starts_at=START,
    ends_at=START + timedelta(hours=2),
    url="https://uskalla.example.fi/gatherings/x",
    description="Tuo\x0b oma ideasi.\r\nTervetuloa!",
    location="Tampere\x1b[31m",
    online_url="https://meet.example.fi/x",
    sequence=3,
)
HOST = Organizer("verkosto@uskalla.example.fi", "MeUskaltajat")


def test_municipalities_and_regions() -> None:
    assert municipalities()["837"].name_fi == "Tampere"
    assert len(municipality_codes()) == len(municipalities()) > 300
    assert municipalities()["837"].region_code in region_codes()


def test_kinds_and_times_in_each_language() -> None:
    assert kind_name("tarinapaja", "sv") == "berättelseverkstad"
    assert set(KINDS) == {"forum", "tarinapaja", "network_meeting", "webinar"}
    assert when(START, "fi") == "12.5.2026 klo 13.00 (Suomen aikaa)"
    assert when("2026-05-12T10:00:00Z", "en") == "12.5.2026 at 13:00 (Finnish time)"


def parsed(data: bytes) -> Calendar:
    return Calendar.from_ical(data)


def test_a_published_entry_parses_whatever_was_stored() -> None:
    cal = parsed(calendar([ENTRY], domain="uskalla.example.fi"))
    assert cal["method"] == "PUBLISH"
    (event,) = cal.walk("VEVENT")
    assert str(event["uid"]) == uid(ENTRY.gathering_id, "uskalla.example.fi")
    assert event.decoded("dtstart") == START
    assert int(event["sequence"]) == 3
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["summary"]) == "Tarinapaja Tampereella"
    assert "\x1b" not in str(event["location"]) and "organizer" not in event
    assert "dtstamp" in event


def test_requests_and_cancellations_name_the_organizer() -> None:
    request = parsed(
        calendar([ENTRY], domain="d", method="REQUEST", organizer=HOST, attendee="a@b.fi")
    )
    (event,) = request.walk("VEVENT")
    assert str(event["organizer"]) == "mailto:verkosto@uskalla.example.fi"
    assert str(event["attendee"]) == "mailto:a@b.fi"
    cancel = parsed(calendar([ENTRY], domain="d", method="CANCEL", organizer=HOST))
    (event,) = cancel.walk("VEVENT")
    assert cancel["method"] == "CANCEL" and str(event["status"]) == "CANCELLED"
    with pytest.raises(ValueError, match="organizer"):
        calendar([ENTRY], domain="d", method="CANCEL")
    with pytest.raises(ValueError, match="method"):
        calendar([ENTRY], domain="d", method="ADD")


def test_a_feed_holds_many_entries() -> None:
    second = replace(ENTRY, gathering_id="other", cancelled=True)
    feed = parsed(calendar([ENTRY, second], domain="d", name="MeUskaltajat"))
    assert [str(e["status"]) for e in feed.walk("VEVENT")] == ["CONFIRMED", "CANCELLED"]
    assert str(feed["x-wr-calname"]) == "MeUskaltajat"
