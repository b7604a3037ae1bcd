"""Joining with double opt-in: validation, consent, tokens, and no account enumeration."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from members.adapters.models import Member
from sqlalchemy import select
from uskalla_events.tables import EventTables
from uskalla_kit import Runtime

GOOD = {
    "email": "Maija.Meikalainen@Example.FI",
    "name": "Maija Meikäläinen",
    "organisation": "Espoon kaupunki",
    "municipality_code": "049",
    "language": "fi",
    "newsletter": True,
    "invitations": False,
    "consent": True,
}


def outbox(runtime: Runtime) -> list[dict[str, Any]]:
    tables: EventTables = runtime.events.tables
    with runtime.db.transaction() as session:
        return [
            r.envelope
            for r in session.execute(select(tables.outbox).order_by(tables.outbox.c.created_at))
        ]


def test_join_stores_a_pending_member_with_consent_and_emits_registered(
    client: FlaskClient, runtime: Runtime
) -> None:
    answer = client.post("/api/v1/members", json=GOOD)
    assert answer.status_code == 202
    assert answer.json == {"status": "confirmation_sent"}
    with runtime.db.transaction() as session:
        member = session.scalars(select(Member)).one()
        assert member.email == "maija.meikalainen@example.fi"
        assert member.status == "pending" and member.consent_at is not None
        assert member.privacy_notice_version == "2026-01"
        assert member.confirm_token_hash and len(member.confirm_token_hash) == 64
    [event] = outbox(runtime)
    assert event["type"] == "members.member.registered.v1"
    assert event["data"]["token"] and not event["data"]["already_member"]
    assert event["correlation_id"] == answer.headers["X-Request-ID"]


def test_validation_errors_are_per_field_and_change_nothing(
    client: FlaskClient, runtime: Runtime
) -> None:
    bad = {
        **GOOD,
        "email": "not-an-address",
        "name": "",
        "language": "de",
        "consent": False,
        "municipality_code": "999",
    }
    answer = client.post("/api/v1/members", json=bad)
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert set(answer.json["errors"]) == {
        "email",
        "name",
        "language",
        "consent",
        "municipality_code",
    }
    assert outbox(runtime) == []


def test_malformed_json_is_400(client: FlaskClient) -> None:
    answer = client.post("/api/v1/members", data="{nope", content_type="application/json")
    assert answer.status_code == 400
    assert answer.json["title"] == "Malformed JSON"


def test_same_answer_for_known_and_unknown_addresses(client: FlaskClient, runtime: Runtime) -> None:
    first = client.post("/api/v1/members", json=GOOD)
    token = outbox(runtime)[0]["data"]["token"]
    assert client.post("/api/v1/members/confirm", json={"token": token}).status_code == 200
    again = client.post("/api/v1/members", json=GOOD)
    unknown = client.post("/api/v1/members", json={**GOOD, "email": "someone.else@example.fi"})
    assert first.status_code == again.status_code == unknown.status_code == 202
    assert first.get_data() == again.get_data() == unknown.get_data()
    kinds = [
        (e["type"], e["data"]["already_member"])
        for e in outbox(runtime)
        if e["type"].endswith("registered.v1")
    ]
    assert kinds == [
        ("members.member.registered.v1", False),
        ("members.member.registered.v1", True),
        ("members.member.registered.v1", False),
    ]


def test_confirm_activates_once_and_is_idempotent(client: FlaskClient, runtime: Runtime) -> None:
    client.post("/api/v1/members", json=GOOD)
    token = outbox(runtime)[0]["data"]["token"]
    first = client.post("/api/v1/members/confirm", json={"token": token})
    second = client.post("/api/v1/members/confirm", json={"token": token})
    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert re.match(r"^\d{4}-\d\d-\d\dT", first.json["joined_at"])
    joined = [e for e in outbox(runtime) if e["type"] == "members.member.joined.v1"]
    assert len(joined) == 1


def test_unknown_token_is_400(client: FlaskClient) -> None:
    answer = client.post("/api/v1/members/confirm", json={"token": "nope"})
    assert answer.status_code == 400


def test_municipalities_are_served(client: FlaskClient) -> None:
    items = client.get("/api/v1/municipalities").json["items"]
    assert len(items) == 308
    assert {"code": "049", "name_fi": "Espoo", "name_sv": "Esbo"}.items() <= next(
        m for m in items if m["code"] == "049"
    ).items()
