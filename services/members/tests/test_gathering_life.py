"""A published gathering's later life: changes told as events, cancelling, the calendar feed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from icalendar import Calendar
from members.adapters.models import Gathering, Member

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]


def test_a_published_change_is_an_event_with_the_new_details_and_sequence(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    coordinator: Member,
    auth: Auth,
    events: Events,
) -> None:
    g = add_gathering()
    later = g.starts_at + timedelta(days=1)
    answer = client.patch(
        f"/api/v1/gatherings/{g.id}",
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=2)).isoformat()},
        headers=auth(coordinator),
    )
    assert answer.status_code == 200, answer.json
    [event] = events("members.gathering.changed.v1")
    data = event["data"]
    assert data["gathering_id"] == str(g.id) and data["sequence"] == 1
    assert sorted(data["changed"]) == ["ends_at", "starts_at"]
    assert datetime.fromisoformat(data["starts_at"]) == later
    assert data["location"] == "Kuntatalo, Helsinki" and data["title"] == "Kokeilufoorumi"
    # Nothing changed: no event, no new sequence.
    same = client.patch(
        f"/api/v1/gatherings/{g.id}",
        json={"starts_at": later.isoformat()},
        headers=auth(coordinator),
    )
    assert same.status_code == 200 and len(events("members.gathering.changed.v1")) == 1
    client.patch(f"/api/v1/gatherings/{g.id}", json={"location": "Oulu"}, headers=auth(coordinator))
    [_, moved] = events("members.gathering.changed.v1")
    assert moved["data"]["changed"] == ["location"] and moved["data"]["sequence"] == 2


def test_a_draft_changes_quietly(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    coordinator: Member,
    auth: Auth,
    events: Events,
) -> None:
    g = add_gathering(status="draft", published_at=None)
    client.patch(f"/api/v1/gatherings/{g.id}", json={"location": "Oulu"}, headers=auth(coordinator))
    assert events() == []
    client.post(f"/api/v1/gatherings/{g.id}/publish", headers=auth(coordinator))
    [published] = events("members.gathering.published.v1")
    assert published["data"]["sequence"] == 1 and published["data"]["location"] == "Oulu"


def test_cancelling(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    coordinator: Member,
    auth: Auth,
    events: Events,
) -> None:
    g = add_gathering(capacity=1)
    first, second = add_member(), add_member()
    for member in (first, second):
        client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(member))
    url = f"/api/v1/gatherings/{g.id}/cancel"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=auth(first)).status_code == 403
    assert events("members.gathering.cancelled.v1") == []
    answer = client.post(url, headers=auth(coordinator))
    assert answer.status_code == 200 and answer.json["status"] == "cancelled"
    [event] = events("members.gathering.cancelled.v1")
    assert event["data"] == {"gathering_id": str(g.id), "sequence": 1}
    again = client.post(url, headers=auth(coordinator))
    assert again.status_code == 200 and len(events("members.gathering.cancelled.v1")) == 1
    # Shown as cancelled to anyone, with who was coming; nothing more can be done to it.
    shown = client.get(f"/api/v1/gatherings/{g.id}").json
    assert shown["status"] == "cancelled" and (shown["registered"], shown["waitlisted"]) == (1, 1)
    assert client.get("/api/v1/gatherings").json["items"][0]["status"] == "cancelled"
    third = add_member()
    late = client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(third))
    assert late.status_code == 409
    edit = client.patch(
        f"/api/v1/gatherings/{g.id}", json={"title": "Uusi"}, headers=auth(coordinator)
    )
    assert edit.status_code == 409
    publish = client.post(f"/api/v1/gatherings/{g.id}/publish", headers=auth(coordinator))
    assert publish.status_code == 409


def test_a_draft_cannot_be_cancelled(
    client: FlaskClient, add_gathering: Callable[..., Gathering], coordinator: Member, auth: Auth
) -> None:
    g = add_gathering(status="draft", published_at=None)
    answer = client.post(f"/api/v1/gatherings/{g.id}/cancel", headers=auth(coordinator))
    assert answer.status_code == 409
    assert answer.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/gatherings/{g.id}", headers=auth(coordinator)).json["status"] == (
        "draft"
    )


def test_the_calendar_feed(
    client: FlaskClient, add_gathering: Callable[..., Gathering], coordinator: Member, auth: Auth
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    upcoming = add_gathering(title="Tuleva")
    recent = add_gathering(
        title="Viime kuussa", starts_at=now - timedelta(days=60), ends_at=now - timedelta(days=59)
    )
    add_gathering(
        title="Kauan sitten", starts_at=now - timedelta(days=120), ends_at=now - timedelta(days=119)
    )
    add_gathering(title="Luonnos", status="draft", published_at=None)
    called_off = add_gathering(title="Peruttu")
    client.post(f"/api/v1/gatherings/{called_off.id}/cancel", headers=auth(coordinator))

    answer = client.get("/api/v1/gatherings/calendar.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    feed = Calendar.from_ical(answer.get_data())
    assert str(feed["METHOD"]) == "PUBLISH" and str(feed["X-WR-CALNAME"]) == "MeUskaltajat"
    found = {str(e["SUMMARY"]): e for e in feed.walk("VEVENT")}
    assert sorted(found) == ["Peruttu", "Tuleva", "Viime kuussa"]
    for gathering in (upcoming, recent, called_off):
        item = found[gathering.title]
        assert str(item["UID"]) == f"gathering-{gathering.id}@uskalla.test"
        assert item.decoded("DTSTART") == gathering.starts_at
        assert item.decoded("DTSTART").utcoffset() == timedelta(0)
        assert "DTSTAMP" in item and "ORGANIZER" not in item
    assert str(found["Peruttu"]["STATUS"]) == "CANCELLED"
    assert int(found["Peruttu"]["SEQUENCE"]) == 1
    assert str(found["Tuleva"]["STATUS"]) == "CONFIRMED"
    # The same UIDs each time it is read: a subscribed calendar updates, never duplicates.
    again = Calendar.from_ical(client.get("/api/v1/gatherings/calendar.ics").get_data())
    assert sorted(str(e["UID"]) for e in again.walk("VEVENT")) == sorted(
        str(e["UID"]) for e in found.values()
    )
