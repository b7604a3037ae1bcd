"""Coordinators: search members (JSON and CSV), change roles, deactivate."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from members.adapters.models import Member

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def network(add_member: Callable[..., Member]) -> dict[str, Member]:
    return {
        "espoo": add_member(name="Eino Espoo", municipality_code="049", organisation="Espoo"),
        "oulu": add_member(name="Olli Oulu", municipality_code="564", newsletter=False),
        "pending": add_member(name="Pekka Pending", status="pending", joined_at=None),
        "closed": add_member(name="Kalle Closed", status="deactivated"),
        "formula": add_member(name="=HYPERLINK(1)", organisation="+evil"),
    }


def names(answer: Any) -> list[str]:
    return [m["name"] for m in answer.json["items"]]


def test_only_coordinators_may_list(
    client: FlaskClient,
    add_member: Callable[..., Member],
    coordinator: Member,
    auth: Auth,
    make_token: Callable[..., str],
) -> None:
    assert client.get("/api/v1/members").status_code == 401
    assert client.get("/api/v1/members", headers=auth(add_member())).status_code == 403
    # A coordinator's token for someone who is no longer a coordinator here does not do.
    demoted = add_member()
    stale = {"Authorization": f"Bearer {make_token(str(demoted.id), 'coordinator')}"}
    assert client.get("/api/v1/members", headers=stale).status_code == 403
    assert client.get("/api/v1/members", headers=auth(coordinator)).status_code == 200


def test_list_filters_and_pages(
    client: FlaskClient, coordinator: Member, auth: Auth, network: dict[str, Member]
) -> None:
    h = auth(coordinator)
    everyone = client.get("/api/v1/members", headers=h)
    assert everyone.json["total"] == 4  # active ones: the coordinator and three others
    assert names(everyone) == ["=HYPERLINK(1)", "Eino Espoo", "Kaisa Koordinaattori", "Olli Oulu"]
    item = everyone.json["items"][1]
    assert set(item) >= {"id", "email", "status", "undeliverable", "role", "created_at"}
    assert names(client.get("/api/v1/members?q=espoo", headers=h)) == ["Eino Espoo"]
    assert names(client.get("/api/v1/members?q=%25", headers=h)) == []
    assert names(client.get("/api/v1/members?municipality_code=564", headers=h)) == ["Olli Oulu"]
    assert names(client.get("/api/v1/members?newsletter=false", headers=h)) == ["Olli Oulu"]
    assert names(client.get("/api/v1/members?status=pending", headers=h)) == ["Pekka Pending"]
    assert names(client.get("/api/v1/members?role=coordinator", headers=h)) == [
        "Kaisa Koordinaattori"
    ]
    page = client.get("/api/v1/members?page=2&per_page=3", headers=h).json
    assert (page["page"], page["per_page"], page["total"], len(page["items"])) == (2, 3, 4, 1)


@pytest.mark.parametrize(
    "query",
    ["per_page=101", "page=0", "municipality_code=999", "newsletter=maybe", "status=x", "role=x"],
)
def test_list_query_validation(
    client: FlaskClient, coordinator: Member, auth: Auth, query: str
) -> None:
    answer = client.get(f"/api/v1/members?{query}", headers=auth(coordinator))
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == [query.split("=", maxsplit=1)[0]]


def test_csv_export_is_safe_for_spreadsheets(
    client: FlaskClient, coordinator: Member, auth: Auth, network: dict[str, Member]
) -> None:
    answer = client.get(
        "/api/v1/members?per_page=1", headers={**auth(coordinator), "Accept": "text/csv"}
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert len(rows) == 4  # every match, not one page
    formula = next(r for r in rows if "HYPERLINK" in r["name"])
    assert formula["name"] == "'=HYPERLINK(1)" and formula["organisation"] == "'+evil"
    assert {"email", "municipality_code", "newsletter", "status"} <= set(rows[0])


def test_change_role_emits_updated(
    client: FlaskClient,
    coordinator: Member,
    auth: Auth,
    add_member: Callable[..., Member],
    events: Events,
) -> None:
    member = add_member()
    answer = client.patch(
        f"/api/v1/members/{member.id}", json={"role": "coordinator"}, headers=auth(coordinator)
    )
    assert answer.status_code == 200 and answer.json["role"] == "coordinator"
    [event] = events()
    assert event["type"] == "members.member.updated.v1" and event["data"]["role"] == "coordinator"
    # The new coordinator can act at once, with a token that says coordinator.
    promoted = Member(id=member.id, role="coordinator")
    assert client.get("/api/v1/members", headers=auth(promoted)).status_code == 200


def test_deactivate_and_reactivate(
    client: FlaskClient,
    coordinator: Member,
    auth: Auth,
    add_member: Callable[..., Member],
    events: Events,
) -> None:
    member = add_member()
    url = f"/api/v1/members/{member.id}"
    answer = client.patch(url, json={"active": False}, headers=auth(coordinator))
    assert answer.status_code == 200 and answer.json["status"] == "deactivated"
    assert events()[-1]["data"]["active"] is False
    assert client.get("/api/v1/members/me", headers=auth(member)).status_code == 403
    again = client.patch(url, json={"active": False}, headers=auth(coordinator))
    assert again.status_code == 200 and len(events()) == 1
    back = client.patch(url, json={"active": True}, headers=auth(coordinator))
    assert back.json["status"] == "active" and events()[-1]["data"]["active"] is True
    assert client.get("/api/v1/members/me", headers=auth(member)).status_code == 200


def test_patch_member_authorisation_and_conflicts(
    client: FlaskClient, coordinator: Member, auth: Auth, add_member: Callable[..., Member]
) -> None:
    member, other = add_member(), add_member()
    pending = add_member(status="pending", joined_at=None)
    body = {"role": "coordinator"}
    assert client.patch(f"/api/v1/members/{other.id}", json=body).status_code == 401
    assert (
        client.patch(f"/api/v1/members/{other.id}", json=body, headers=auth(member)).status_code
        == 403
    )
    h = auth(coordinator)
    assert client.patch(f"/api/v1/members/{uuid.uuid4()}", json=body, headers=h).status_code == 404
    assert client.patch("/api/v1/members/not-a-uuid", json=body, headers=h).status_code in (
        404,
        405,
    )
    own = client.patch(f"/api/v1/members/{coordinator.id}", json={"role": "member"}, headers=h)
    assert own.status_code == 409
    assert (
        client.patch(f"/api/v1/members/{pending.id}", json={"active": True}, headers=h).status_code
        == 409
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_schema"),
        ({"role": "admin"}, "role"),
        ({"active": "no way"}, "active"),
        ({"email": "x@example.fi"}, "email"),
    ],
)
def test_patch_member_validation(
    client: FlaskClient,
    coordinator: Member,
    auth: Auth,
    add_member: Callable[..., Member],
    events: Events,
    body: dict[str, Any],
    field: str,
) -> None:
    member = add_member()
    answer = client.patch(f"/api/v1/members/{member.id}", json=body, headers=auth(coordinator))
    assert answer.status_code == 422 and list(answer.json["errors"]) == [field]
    assert events() == []
