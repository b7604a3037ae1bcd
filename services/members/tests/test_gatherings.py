"""Gatherings: drafts, editing, publishing, listing and reading, calendar files."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from icalendar import Calendar
from members.adapters.models import Gathering, Member
from members.domain import gatherings
from uskalla_reference import calendar as ical
from uskalla_reference import gatherings as reference

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]

START = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
DRAFT = {
    "title": "Tarinapaja: kokeilun idea",
    "kind": "tarinapaja",
    "description": "Kehitä oma kokeiluideasi.",
    "starts_at": START.isoformat(),
    "ends_at": (START + timedelta(hours=2)).isoformat(),
    "online_url": "https://meet.example.fi/paja",
    "capacity": 20,
    "registration_deadline": (START - timedelta(days=1)).isoformat(),
    "language": "fi",
}


def test_coordinator_creates_a_draft(
    client: FlaskClient, coordinator: Member, auth: Auth, events: Events
) -> None:
    answer = client.post("/api/v1/gatherings", json=DRAFT, headers=auth(coordinator))
    assert answer.status_code == 201
    body = answer.json
    assert body["status"] == "draft" and body["published_at"] is None
    assert body["registered"] == body["waitlisted"] == 0
    assert body["location"] is None and body["capacity"] == 20
    assert datetime.fromisoformat(body["starts_at"]) == START
    assert body["url"] == f"https://uskalla.test/gatherings/{body['id']}"
    assert events() == []


def test_naive_and_offset_times_are_taken_as_utc(
    client: FlaskClient, coordinator: Member, auth: Auth
) -> None:
    body = {
        **DRAFT,
        "starts_at": "2030-05-01T09:00:00",
        "ends_at": "2030-05-01T15:00:00+03:00",
        "registration_deadline": None,
    }
    answer = client.post("/api/v1/gatherings", json=body, headers=auth(coordinator))
    assert answer.json["starts_at"] == "2030-05-01T09:00:00+00:00"
    assert answer.json["ends_at"] == "2030-05-01T12:00:00+00:00"


def test_who_may_create(client: FlaskClient, add_member: Callable[..., Member], auth: Auth) -> None:
    assert client.post("/api/v1/gatherings", json=DRAFT).status_code == 401
    assert (
        client.post("/api/v1/gatherings", json=DRAFT, headers=auth(add_member())).status_code == 403
    )


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"title": ""}, {"title"}),
        ({"title": "x" * 201}, {"title"}),
        ({"kind": "party"}, {"kind"}),
        ({"description": "x" * 10_001}, {"description"}),
        ({"starts_at": "tomorrow"}, {"starts_at"}),
        ({"starts_at": "0001-01-01T00:00:00+01:00"}, {"starts_at"}),
        ({"ends_at": "1999-12-31T00:00:00Z"}, {"ends_at"}),
        ({"ends_at": DRAFT["starts_at"]}, {"ends_at"}),
        ({"online_url": "javascript:alert(1)"}, {"online_url"}),
        ({"online_url": "https://x.fi/" + "a" * 500}, {"online_url"}),
        ({"online_url": None}, {"location"}),
        ({"location": "x" * 301}, {"location"}),
        ({"capacity": 0}, {"capacity"}),
        ({"capacity": "many"}, {"capacity"}),
        ({"capacity": "5"}, {"capacity"}),
        ({"title": " \ufeff "}, {"title"}),
        ({"online_url": "https://x.fi/\n"}, {"online_url"}),
        ({"starts_at": "1999-12-31T23:00:00-05:00"}, {"starts_at"}),
        (
            {"registration_deadline": (START + timedelta(days=1)).isoformat()},
            {"registration_deadline"},
        ),
        ({"language": "de"}, {"language"}),
        ({"organiser": "me"}, {"organiser"}),
    ],
)
def test_create_validation(
    client: FlaskClient, coordinator: Member, auth: Auth, changes: dict[str, Any], fields: set[str]
) -> None:
    answer = client.post("/api/v1/gatherings", json={**DRAFT, **changes}, headers=auth(coordinator))
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == fields


def test_the_kinds_are_the_shared_ones(
    client: FlaskClient, coordinator: Member, auth: Auth
) -> None:
    assert gatherings.KINDS is reference.KINDS  # one definition, not a copy that can drift
    for kind in reference.KINDS:
        answer = client.post(
            "/api/v1/gatherings", json={**DRAFT, "kind": kind}, headers=auth(coordinator)
        )
        assert answer.status_code == 201, kind


def test_required_fields(client: FlaskClient, coordinator: Member, auth: Auth) -> None:
    answer = client.post("/api/v1/gatherings", json={}, headers=auth(coordinator))
    assert set(answer.json["errors"]) == {"title", "kind", "starts_at", "ends_at"}


def test_drafts_are_hidden_from_all_but_coordinators(
    client: FlaskClient, coordinator: Member, auth: Auth, add_member: Callable[..., Member]
) -> None:
    gid = client.post("/api/v1/gatherings", json=DRAFT, headers=auth(coordinator)).json["id"]
    assert client.get(f"/api/v1/gatherings/{gid}").status_code == 404
    assert client.get(f"/api/v1/gatherings/{gid}", headers=auth(add_member())).status_code == 404
    assert client.get(f"/api/v1/gatherings/{gid}", headers=auth(coordinator)).status_code == 200
    assert client.get(f"/api/v1/gatherings/{gid}/calendar.ics").status_code == 404
    assert client.get("/api/v1/gatherings").json["total"] == 0
    drafts = client.get("/api/v1/gatherings?status=draft", headers=auth(coordinator))
    assert [g["id"] for g in drafts.json["items"]] == [gid]
    assert client.get("/api/v1/gatherings?status=draft").status_code == 401
    assert (
        client.get("/api/v1/gatherings?status=draft", headers=auth(add_member())).status_code == 403
    )


def test_publish_emits_the_invitation_event_once(
    client: FlaskClient,
    coordinator: Member,
    auth: Auth,
    add_member: Callable[..., Member],
    events: Events,
) -> None:
    gid = client.post("/api/v1/gatherings", json=DRAFT, headers=auth(coordinator)).json["id"]
    assert client.post(f"/api/v1/gatherings/{gid}/publish").status_code == 401
    assert (
        client.post(f"/api/v1/gatherings/{gid}/publish", headers=auth(add_member())).status_code
        == 403
    )
    answer = client.post(f"/api/v1/gatherings/{gid}/publish", headers=auth(coordinator))
    assert answer.status_code == 200 and answer.json["status"] == "published"
    assert answer.json["published_at"] is not None
    [event] = events("members.gathering.published.v1")
    assert event["data"]["gathering_id"] == gid and event["data"]["kind"] == "tarinapaja"
    assert event["data"]["online_url"] == DRAFT["online_url"]
    again = client.post(f"/api/v1/gatherings/{gid}/publish", headers=auth(coordinator))
    assert again.status_code == 409 and len(events()) == 1
    missing = client.post(f"/api/v1/gatherings/{uuid.uuid4()}/publish", headers=auth(coordinator))
    assert missing.status_code == 404
    assert client.get(f"/api/v1/gatherings/{gid}").status_code == 200


def test_patch_edits_and_checks_against_stored_values(
    client: FlaskClient,
    coordinator: Member,
    auth: Auth,
    add_member: Callable[..., Member],
    add_gathering: Callable[..., Gathering],
) -> None:
    g = add_gathering()
    url = f"/api/v1/gatherings/{g.id}"
    answer = client.patch(
        url, json={"title": "Uusi otsikko", "capacity": None}, headers=auth(coordinator)
    )
    assert answer.status_code == 200
    assert answer.json["title"] == "Uusi otsikko" and answer.json["capacity"] is None
    too_late = (g.starts_at - timedelta(hours=2)).isoformat()
    bad = client.patch(url, json={"ends_at": too_late}, headers=auth(coordinator))
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"ends_at"}
    nowhere = client.patch(url, json={"location": None}, headers=auth(coordinator))
    assert nowhere.status_code == 422 and set(nowhere.json["errors"]) == {"location"}
    assert client.patch(url, json={"kind": "x"}, headers=auth(coordinator)).status_code == 422
    assert client.patch(url, json={"title": "X"}).status_code == 401
    assert client.patch(url, json={"title": "X"}, headers=auth(add_member())).status_code == 403
    missing = client.patch(f"/api/v1/gatherings/{uuid.uuid4()}", json={}, headers=auth(coordinator))
    assert missing.status_code == 404
    assert client.get(url).json["title"] == "Uusi otsikko"


def test_list_upcoming_by_default(
    client: FlaskClient, add_gathering: Callable[..., Gathering]
) -> None:
    past_start = datetime.now(UTC) - timedelta(days=10)
    past = add_gathering(
        title="Mennyt", starts_at=past_start, ends_at=past_start + timedelta(hours=1)
    )
    later = add_gathering(
        title="Myöhempi",
        starts_at=START + timedelta(days=5),
        ends_at=START + timedelta(days=5, hours=1),
    )
    sooner = add_gathering(title="Pian", kind="webinar", language="en")
    add_gathering(title="Luonnos", status="draft", published_at=None)
    upcoming = client.get("/api/v1/gatherings")
    assert [g["id"] for g in upcoming.json["items"]] == [str(sooner.id), str(later.id)]
    everything = client.get("/api/v1/gatherings?upcoming=false").json
    assert everything["total"] == 3 and everything["items"][-1]["id"] == str(past.id)
    assert client.get("/api/v1/gatherings?kind=webinar").json["total"] == 1
    assert client.get("/api/v1/gatherings?language=en").json["total"] == 1
    assert client.get("/api/v1/gatherings?per_page=1").json["items"][0]["id"] == str(sooner.id)
    for query in ("kind=party", "upcoming=soon", "per_page=0", "language=xx", "status=gone"):
        assert client.get(f"/api/v1/gatherings?{query}").status_code == 422


def test_get_one_with_counts(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
) -> None:
    g = add_gathering(capacity=1)
    first, second = add_member(), add_member()
    client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(first))
    client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(second))
    anonymous = client.get(f"/api/v1/gatherings/{g.id}").json
    assert (anonymous["registered"], anonymous["waitlisted"]) == (1, 1)
    assert anonymous["my_registration"] is None
    assert (
        client.get(f"/api/v1/gatherings/{g.id}", headers=auth(second)).json["my_registration"]
        == "waitlisted"
    )
    assert client.get(f"/api/v1/gatherings/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/v1/gatherings/nope").status_code == 404
    listed = client.get("/api/v1/gatherings").json["items"][0]
    assert (listed["registered"], listed["waitlisted"]) == (1, 1)


def test_calendar_file(client: FlaskClient, add_gathering: Callable[..., Gathering]) -> None:
    g = add_gathering(
        title="Verkostotapaaminen; kevät, 2030",
        kind="network_meeting",
        online_url="https://meet.example.fi/x",
        language="sv",
        description="Rivi 1\nRivi 2 " + "pitkä " * 40,
    )
    answer = client.get(f"/api/v1/gatherings/{g.id}/calendar.ics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/calendar"
    raw = answer.get_data()
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded (RFC 5545 3.1)
    calendar = Calendar.from_ical(raw)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"gathering-{g.id}@uskalla.test"
    assert event["SUMMARY"] == "Verkostotapaaminen; kevät, 2030"
    assert event.decoded("DTSTART") == g.starts_at
    assert event.decoded("DTEND") == g.ends_at
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert b"DTSTART:" in raw and b"Z\r\n" in raw  # UTC form, no TZID needed
    assert "DTSTAMP" in event
    assert str(event["URL"]) == f"https://uskalla.test/sv/gatherings/{g.id}"
    assert "Kuntatalo, Helsinki" in str(event["LOCATION"])
    assert "Rivi 2" in str(event["DESCRIPTION"])
    assert int(event["SEQUENCE"]) == 0


def test_the_download_is_the_shared_calendar_form(
    client: FlaskClient, add_gathering: Callable[..., Gathering]
) -> None:
    # The file one downloads says what the invitation mail's attachment says (one builder).
    g = add_gathering(online_url="https://meet.example.fi/x", description="Tervetuloa")
    raw = client.get(f"/api/v1/gatherings/{g.id}/calendar.ics").get_data()
    [event] = Calendar.from_ical(raw).walk("VEVENT")
    entry = ical.CalendarEntry(
        gathering_id=str(g.id),
        title=g.title,
        starts_at=g.starts_at,
        ends_at=g.ends_at,
        url=f"https://uskalla.test/gatherings/{g.id}",  # Finnish: no prefix
        description="Tervetuloa",
        location=g.location,
        online_url="https://meet.example.fi/x",
        updated_at=g.updated_at,
    )
    assert raw == ical.calendar([entry], domain="uskalla.test", stamp=event.decoded("DTSTAMP"))


def test_edits_bump_the_calendar_sequence(
    client: FlaskClient, add_gathering: Callable[..., Gathering], coordinator: Member, auth: Auth
) -> None:
    g = add_gathering()
    client.patch(
        f"/api/v1/gatherings/{g.id}", json={"title": "Muutettu"}, headers=auth(coordinator)
    )
    [event] = Calendar.from_ical(
        client.get(f"/api/v1/gatherings/{g.id}/calendar.ics").get_data()
    ).walk("VEVENT")
    assert int(event["SEQUENCE"]) == 1 and event["SUMMARY"] == "Muutettu"
