"""CSV and calendar files stay well-formed whatever is stored; the API stores no control
characters in any text field."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from icalendar import Calendar
from members.adapters.models import Gathering, Intake, Member
from sqlalchemy import func, select
from uskalla_kit import Runtime
from uskalla_kit.text import CONTROL

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]

#: What rows stored before text refused control characters may hold (PostgreSQL takes all
#: but NUL): escapes, a bell, vertical tab, form feed, a lone CR, DEL, C1 (NEL), U+FFFE.
DIRTY = "A\x1b[31m\x07b\x0bc\x0cd\re\x7ff\x85g\ufffeh"


def parse_csv(answer: Any) -> list[dict[str, str]]:
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True), newline="")))


def test_member_csv_stays_well_formed_and_formula_free(
    client: FlaskClient, coordinator: Member, add_member: Callable[..., Member], auth: Auth
) -> None:
    add_member(name=DIRTY, organisation="\x07=HYPERLINK(1)", title="ok\r\nline")
    answer = client.get("/api/v1/members", headers={**auth(coordinator), "Accept": "text/csv"})
    rows = parse_csv(answer)
    assert len(rows) == 2
    for row in rows:
        for value in row.values():
            assert not CONTROL.search(value), repr(value)
    [dirty] = [r for r in rows if r["email"] != coordinator.email]
    assert dirty["name"] == "A[31mbcdefgh"
    assert dirty["organisation"] == "'=HYPERLINK(1)"  # the bell hid the formula before
    assert dirty["title"] == "ok\r\nline"  # a line break is text, quoted


def test_registrant_csv_stays_well_formed(
    client: FlaskClient,
    coordinator: Member,
    add_member: Callable[..., Member],
    add_gathering: Callable[..., Gathering],
    auth: Auth,
) -> None:
    g = add_gathering()
    member = add_member(name=DIRTY, organisation="\x1b+evil")
    registered = client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(member))
    assert registered.status_code == 201
    answer = client.get(
        f"/api/v1/gatherings/{g.id}/registrations",
        headers={**auth(coordinator), "Accept": "text/csv"},
    )
    [row] = parse_csv(answer)
    assert (row["name"], row["organisation"]) == ("A[31mbcdefgh", "'+evil")


def test_calendar_stays_well_formed(
    client: FlaskClient, add_gathering: Callable[..., Gathering]
) -> None:
    g = add_gathering(
        title=f"Foorumi {DIRTY}", description=f"Rivi\x0b{DIRTY}", location="Talo\x0c\x1b"
    )
    raw = client.get(f"/api/v1/gatherings/{g.id}/calendar.ics").get_data()
    # RFC 5545: lines end in CRLF (a fold adds CRLF and a space); no other control
    # character but tab anywhere.
    unfolded = raw.decode().replace("\r\n ", "").replace("\r\n", "")
    assert not CONTROL.search(unfolded.replace("\t", "")), repr(raw)
    [event] = Calendar.from_ical(raw).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Foorumi A[31mbcdefgh"
    assert str(event["DESCRIPTION"]).startswith("RiviA[31mbcdefgh\n\n")
    assert str(event["LOCATION"]) == "Talo"


BAD = "x\x07y"
START = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
JOIN = {"email": "a@example.fi", "name": "A", "consent": True}
DRAFT = {
    "title": "Foorumi",
    "kind": "forum",
    "starts_at": START.isoformat(),
    "ends_at": (START + timedelta(hours=2)).isoformat(),
    "location": "Kuntatalo",
}


@pytest.mark.parametrize(
    "field", ["email", "name", "organisation", "municipality_code", "title", "language"]
)
def test_join_refuses_control_characters(client: FlaskClient, runtime: Runtime, field: str) -> None:
    answer = client.post("/api/v1/members", json={**JOIN, field: BAD})
    assert answer.status_code == 422 and list(answer.json["errors"]) == [field]
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Intake)) == 0


@pytest.mark.parametrize(
    "field", ["name", "organisation", "municipality_code", "title", "language"]
)
def test_profile_refuses_control_characters(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth, field: str
) -> None:
    member = add_member()
    before = client.get("/api/v1/members/me", headers=auth(member)).json
    answer = client.patch("/api/v1/members/me", json={field: BAD}, headers=auth(member))
    assert answer.status_code == 422 and list(answer.json["errors"]) == [field]
    assert client.get("/api/v1/members/me", headers=auth(member)).json == before


@pytest.mark.parametrize(
    "field", ["title", "kind", "description", "location", "online_url", "language"]
)
def test_gathering_create_and_edit_refuse_control_characters(
    client: FlaskClient,
    coordinator: Member,
    add_gathering: Callable[..., Gathering],
    auth: Auth,
    field: str,
) -> None:
    created = client.post(
        "/api/v1/gatherings", json={**DRAFT, field: BAD}, headers=auth(coordinator)
    )
    assert created.status_code == 422 and list(created.json["errors"]) == [field]
    g = add_gathering()
    before = client.get(f"/api/v1/gatherings/{g.id}").json
    edited = client.patch(
        f"/api/v1/gatherings/{g.id}", json={field: BAD}, headers=auth(coordinator)
    )
    assert edited.status_code == 422 and list(edited.json["errors"]) == [field]
    assert client.get(f"/api/v1/gatherings/{g.id}").json == before
    drafts = client.get("/api/v1/gatherings?status=draft", headers=auth(coordinator)).json
    assert drafts["total"] == 0  # the refused draft was not stored
