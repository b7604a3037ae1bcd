"""GET/PATCH /members/me: the member's own profile and subscriptions, with events on change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from members.adapters.models import Member

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]


def test_member_reads_own_profile(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth
) -> None:
    member = add_member(title="Kehittämispäällikkö")
    add_member()  # someone else
    answer = client.get("/api/v1/members/me", headers=auth(member))
    assert answer.status_code == 200
    assert answer.json == {
        "id": str(member.id),
        "email": member.email,
        "name": member.name,
        "organisation": "Tampereen kaupunki",
        "municipality_code": "837",
        "title": "Kehittämispäällikkö",
        "language": "fi",
        "newsletter": True,
        "invitations": True,
        "follows": True,
        "comments": True,
        "role": "member",
        "joined_at": answer.json["joined_at"],
        "undeliverable": False,
    }


def test_anonymous_bad_token_unknown_and_deactivated(
    client: FlaskClient,
    add_member: Callable[..., Member],
    auth: Auth,
    make_token: Callable[..., str],
) -> None:
    assert client.get("/api/v1/members/me").status_code == 401
    bad = client.get("/api/v1/members/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    stranger = {"Authorization": f"Bearer {make_token(str(uuid.uuid4()))}"}
    assert client.get("/api/v1/members/me", headers=stranger).status_code == 401
    closed = add_member(status="deactivated")
    assert client.get("/api/v1/members/me", headers=auth(closed)).status_code == 403
    assert client.patch("/api/v1/members/me", json={}, headers=auth(closed)).status_code == 403
    assert client.patch("/api/v1/members/me", json={"name": "X"}).status_code == 401


def test_profile_change_emits_updated_only(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth, events: Events
) -> None:
    member = add_member()
    answer = client.patch(
        "/api/v1/members/me",
        json={"name": "Uusi Nimi", "municipality_code": "091", "language": "sv", "title": None},
        headers=auth(member),
    )
    assert answer.status_code == 200
    assert answer.json["name"] == "Uusi Nimi" and answer.json["municipality_code"] == "091"
    [event] = events()
    assert event["type"] == "members.member.updated.v1"
    assert event["data"]["name"] == "Uusi Nimi" and event["data"]["language"] == "sv"
    assert event["data"]["active"] is True


def test_subscription_change_emits_subscriptions_changed_only(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth, events: Events
) -> None:
    member = add_member()
    answer = client.patch("/api/v1/members/me", json={"newsletter": False}, headers=auth(member))
    assert answer.json["newsletter"] is False and answer.json["invitations"] is True
    [event] = events()
    assert event["type"] == "members.subscriptions.changed.v1"
    assert event["data"] == {
        "member_id": str(member.id),
        "newsletter": False,
        "invitations": True,
        "follows": True,
        "comments": True,
    }


def test_follows_and_comments_lists_are_changed_on_the_profile(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth, events: Events
) -> None:
    member = add_member()
    answer = client.patch(
        "/api/v1/members/me", json={"follows": False, "comments": False}, headers=auth(member)
    )
    assert answer.status_code == 200
    assert answer.json["follows"] is False and answer.json["comments"] is False
    assert answer.json["newsletter"] is True
    [event] = events()
    assert event["type"] == "members.subscriptions.changed.v1"
    assert event["data"] == {
        "member_id": str(member.id),
        "newsletter": True,
        "invitations": True,
        "follows": False,
        "comments": False,
    }
    again = client.patch("/api/v1/members/me", json={"comments": True}, headers=auth(member))
    assert again.json["comments"] is True and again.json["follows"] is False
    assert events()[-1]["data"]["comments"] is True and events()[-1]["data"]["follows"] is False


def test_both_kinds_of_change_and_no_change(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth, events: Events
) -> None:
    member = add_member()
    client.patch(
        "/api/v1/members/me",
        json={"organisation": "Kuntaliitto", "invitations": False},
        headers=auth(member),
    )
    assert [e["type"] for e in events()] == [
        "members.member.updated.v1",
        "members.subscriptions.changed.v1",
    ]
    same = client.patch(
        "/api/v1/members/me",
        json={"organisation": "Kuntaliitto", "invitations": False},
        headers=auth(member),
    )
    assert same.status_code == 200 and len(events()) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": " "}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"organisation": "x" * 201}, "organisation"),
        ({"title": "x" * 201}, "title"),
        ({"municipality_code": "000"}, "municipality_code"),
        ({"language": "de"}, "language"),
        ({"newsletter": "sometimes"}, "newsletter"),
        ({"follows": "yes"}, "follows"),
        ({"comments": None}, "comments"),
        ({"email": "new@example.fi"}, "email"),
        ({"role": "coordinator"}, "role"),
    ],
)
def test_patch_validation(
    client: FlaskClient,
    add_member: Callable[..., Member],
    auth: Auth,
    events: Events,
    body: dict[str, Any],
    field: str,
) -> None:
    member = add_member()
    answer = client.patch("/api/v1/members/me", json=body, headers=auth(member))
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == [field]
    assert events() == []
    assert client.get("/api/v1/members/me", headers=auth(member)).json["role"] == "member"


def test_malformed_patch_is_400(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth
) -> None:
    member = add_member()
    answer = client.patch(
        "/api/v1/members/me", data="{", content_type="application/json", headers=auth(member)
    )
    assert answer.status_code == 400
