"""Interests (GET/PUT /members/me/interests, at joining), the follows/comments/digest lists,
and what erasure and the data export do with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from members.adapters.models import Member
from sqlalchemy import select
from uskalla_events import new_envelope
from uskalla_events.contracts import AddressComplained
from uskalla_kit import Runtime
from uskalla_kit.signed import SignedTokens

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]
Unseal = Callable[[str], str]
URL = "/api/v1/members/me/interests"
GOOD = {"themes": ["sote-uudistus", "digikuntakokeilut"], "municipality_codes": ["837", "091"]}


def token_for(member: Member, mailing_list: str) -> str:
    return SignedTokens("test-unsubscribe-secret", "unsubscribe").make(
        {"member_id": str(member.id), "list": mailing_list}
    )


def stored(runtime: Runtime, member: Member) -> dict[str, Any]:
    with runtime.db.transaction() as session:
        row = session.get(Member, member.id)
        assert row is not None
        return {
            "themes": row.themes,
            "municipality_codes": row.interest_municipality_codes,
            "digest": row.digest,
            "newsletter": row.newsletter,
            "invitations": row.invitations,
            "follows": row.follows,
            "comments": row.comments,
        }


def join(client: FlaskClient, unseal: Unseal, events: Events, **fields: Any) -> dict[str, Any]:
    """Join and confirm through the API; the member's page."""
    body = {"email": "uusi@example.fi", "name": "Uusi Jäsen", "consent": True, **fields}
    assert client.post("/api/v1/members", json=body).status_code == 202
    token = unseal(events("members.member.registered.v1")[-1]["data"]["token"])
    answer = client.post("/api/v1/members/confirm", json={"token": token})
    assert answer.status_code == 200
    return dict(answer.json)


def test_a_member_reads_and_replaces_their_interests(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    auth: Auth,
    events: Events,
) -> None:
    member = add_member()
    assert client.get(URL, headers=auth(member)).json == {
        "themes": [],
        "municipality_codes": [],
        "digest": "off",
    }
    answer = client.put(URL, json={**GOOD, "digest": "daily"}, headers=auth(member))
    assert answer.status_code == 200
    # Kept as sets: sorted, so a reordering is no change.
    expected = {
        "themes": ["digikuntakokeilut", "sote-uudistus"],
        "municipality_codes": ["091", "837"],
        "digest": "daily",
    }
    assert answer.json == expected
    assert client.get(URL, headers=auth(member)).json == expected
    [event] = events()
    assert event["type"] == "members.interests.changed.v1"
    assert event["data"] == {"member_id": str(member.id), **expected}
    again = {
        "themes": ["sote-uudistus", "digikuntakokeilut"],
        "municipality_codes": ["837", "091"],
        "digest": "daily",
    }
    assert client.put(URL, json=again, headers=auth(member)).status_code == 200
    assert len(events()) == 1  # nothing changed, nothing told
    cleared = {"themes": [], "municipality_codes": [], "digest": "off"}
    assert client.put(URL, json=cleared, headers=auth(member)).json == cleared
    assert events()[-1]["data"] == {"member_id": str(member.id), **cleared}
    assert stored(runtime, member)["themes"] == []


def test_member_updated_carries_the_themes(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth, events: Events
) -> None:
    member = add_member()
    client.put(URL, json={**GOOD, "digest": "weekly"}, headers=auth(member))
    client.patch("/api/v1/members/me", json={"name": "Uusi Nimi"}, headers=auth(member))
    [updated] = events("members.member.updated.v1")
    assert updated["data"]["themes"] == ["digikuntakokeilut", "sote-uudistus"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"municipality_codes": [], "digest": "off"}, "themes"),
        ({"themes": [], "digest": "off"}, "municipality_codes"),
        ({"themes": [], "municipality_codes": []}, "digest"),
        ({**GOOD, "digest": "monthly"}, "digest"),
        ({**GOOD, "digest": None}, "digest"),
        ({**GOOD, "digest": ""}, "digest"),
        ({**GOOD, "themes": ["Sote"], "digest": "off"}, "themes"),
        ({**GOOD, "themes": ["sote--uudistus"], "digest": "off"}, "themes"),
        ({**GOOD, "themes": ["a" * 61], "digest": "off"}, "themes"),
        ({**GOOD, "themes": [""], "digest": "off"}, "themes"),
        ({**GOOD, "themes": [None], "digest": "off"}, "themes"),
        ({**GOOD, "themes": ["x", "x"], "digest": "off"}, "themes"),
        ({**GOOD, "themes": [f"t{n}" for n in range(21)], "digest": "off"}, "themes"),
        ({**GOOD, "themes": "sote", "digest": "off"}, "themes"),
        ({**GOOD, "municipality_codes": ["999"], "digest": "off"}, "municipality_codes"),
        ({**GOOD, "municipality_codes": ["091", "091"], "digest": "off"}, "municipality_codes"),
        ({**GOOD, "municipality_codes": [None], "digest": "off"}, "municipality_codes"),
        ({**GOOD, "digest": "off", "newsletter": False}, "newsletter"),
    ],
)
def test_put_validation_is_per_field_and_changes_nothing(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    auth: Auth,
    events: Events,
    body: dict[str, Any],
    field: str,
) -> None:
    member = add_member(themes=["kokeilut"], digest="weekly")
    before = stored(runtime, member)
    answer = client.put(URL, json=body, headers=auth(member))
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    # An item's error is named by its place in the list (themes.0).
    assert {name.split(".")[0] for name in answer.json["errors"]} == {field}
    assert stored(runtime, member) == before
    assert events() == []


def test_interests_need_a_signed_in_active_member(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth
) -> None:
    body = {**GOOD, "digest": "off"}
    assert client.get(URL).status_code == 401
    assert client.put(URL, json=body).status_code == 401
    closed = add_member(status="deactivated")
    assert client.get(URL, headers=auth(closed)).status_code == 403
    assert client.put(URL, json=body, headers=auth(closed)).status_code == 403
    malformed = client.put(
        URL, data="{", content_type="application/json", headers=auth(add_member())
    )
    assert malformed.status_code == 400


def test_interests_given_at_joining_arrive_with_member_joined(
    client: FlaskClient, runtime: Runtime, events: Events, unseal: Unseal
) -> None:
    page = join(client, unseal, events, **GOOD, digest="daily", newsletter=False)
    assert page["follows"] is True and page["comments"] is True
    [joined] = events("members.member.joined.v1")
    data = joined["data"]
    assert {
        k: data[k] for k in ("themes", "municipality_codes", "digest", "follows", "comments")
    } == {
        "themes": ["digikuntakokeilut", "sote-uudistus"],
        "municipality_codes": ["091", "837"],
        "digest": "daily",
        "follows": True,
        "comments": True,
    }
    assert data["newsletter"] is False
    with runtime.db.transaction() as session:
        member = session.scalar(select(Member).where(Member.email == "uusi@example.fi"))
        assert member is not None and member.digest == "daily"


@pytest.mark.parametrize(("newsletter", "digest"), [(True, "weekly"), (False, "off")])
def test_the_digest_defaults_to_weekly_with_the_newsletter(
    client: FlaskClient, events: Events, unseal: Unseal, newsletter: bool, digest: str
) -> None:
    join(client, unseal, events, newsletter=newsletter)
    [joined] = events("members.member.joined.v1")
    assert joined["data"]["digest"] == digest
    assert joined["data"]["themes"] == [] and joined["data"]["municipality_codes"] == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"themes": ["Ei Slug"]}, "themes"),
        ({"themes": ["a", "a"]}, "themes"),
        ({"municipality_codes": ["999"]}, "municipality_codes"),
        ({"digest": "hourly"}, "digest"),
        ({"digest": None}, "digest"),
    ],
)
def test_joining_with_bad_interests_is_refused_per_field(
    client: FlaskClient, events: Events, extra: dict[str, Any], field: str
) -> None:
    body = {"email": "uusi@example.fi", "name": "Uusi", "consent": True, **extra}
    answer = client.post("/api/v1/members", json=body)
    assert answer.status_code == 422
    # An item's error is named by its place in the list (themes.0).
    assert {name.split(".")[0] for name in answer.json["errors"]} == {field}
    assert events() == []


@pytest.mark.parametrize("mailing_list", ["follows", "comments"])
def test_one_click_unsubscribe_from_follows_and_comments(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    mailing_list: str,
) -> None:
    member = add_member()
    url = f"/api/v1/unsubscribe?token={token_for(member, mailing_list)}"
    answer = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert answer.json == {"status": "unsubscribed", "list": mailing_list}
    now = stored(runtime, member)
    assert now[mailing_list] is False
    assert now["newsletter"] and now["invitations"]
    other = "comments" if mailing_list == "follows" else "follows"
    [event] = events()
    assert event["type"] == "members.subscriptions.changed.v1"
    assert event["data"] == {
        "member_id": str(member.id),
        "newsletter": True,
        "invitations": True,
        mailing_list: False,
        other: True,
    }
    assert client.post(url).status_code == 200
    assert len(events()) == 1  # already off: nothing more


def test_one_click_unsubscribe_from_the_digest_turns_it_off(
    client: FlaskClient, runtime: Runtime, add_member: Callable[..., Member], events: Events
) -> None:
    member = add_member(themes=["kokeilut"], interest_municipality_codes=["091"], digest="daily")
    url = f"/api/v1/unsubscribe?token={token_for(member, 'digest')}"
    answer = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert answer.json == {"status": "unsubscribed", "list": "digest"}
    now = stored(runtime, member)
    assert now["digest"] == "off" and now["themes"] == ["kokeilut"]
    assert now["newsletter"] and now["follows"] and now["comments"]
    [event] = events()
    assert event["type"] == "members.interests.changed.v1"
    assert event["data"] == {
        "member_id": str(member.id),
        "themes": ["kokeilut"],
        "municipality_codes": ["091"],
        "digest": "off",
    }
    assert client.post(url).status_code == 200
    assert len(events()) == 1


def test_a_complaint_turns_off_the_new_lists_and_the_digest(
    runtime: Runtime, add_member: Callable[..., Member], events: Events
) -> None:
    member = add_member(email="valittaja@example.fi", digest="weekly")
    envelope = new_envelope(AddressComplained(email="valittaja@example.fi", member_id=member.id))
    assert runtime.events.consumer.handle(envelope) is True
    assert stored(runtime, member) == {
        "themes": [],
        "municipality_codes": [],
        "digest": "off",
        "newsletter": False,
        "invitations": False,
        "follows": False,
        "comments": False,
    }
    [lists] = events("members.subscriptions.changed.v1")
    assert lists["data"] == {
        "member_id": str(member.id),
        "newsletter": False,
        "invitations": False,
        "follows": False,
        "comments": False,
    }
    [interests] = events("members.interests.changed.v1")
    assert interests["data"]["digest"] == "off"


def test_export_holds_interests_and_erasure_removes_them(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    auth: Auth,
    events: Events,
) -> None:
    member = add_member()
    other = add_member(themes=["kokeilut"])
    client.put(URL, json={**GOOD, "digest": "weekly"}, headers=auth(member))
    exported = client.get("/api/v1/members/me/export", headers=auth(member)).json
    assert exported["interests"] == {
        "themes": ["digikuntakokeilut", "sote-uudistus"],
        "municipality_codes": ["091", "837"],
        "digest": "weekly",
    }
    assert exported["member"]["follows"] is True and exported["member"]["comments"] is True
    assert client.delete("/api/v1/members/me", headers=auth(member)).status_code == 202
    with runtime.db.transaction() as session:
        assert session.get(Member, member.id) is None
        assert session.scalars(select(Member.themes)).all() == [["kokeilut"]]
    # The interests' event went with the rest of the member's events; only the erasure stays.
    assert [e["type"] for e in events()] == ["members.member.erased.v1"]
    assert other.id != member.id
