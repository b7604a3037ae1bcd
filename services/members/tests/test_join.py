"""Joining with double opt-in: validation, consent, tokens, and no account enumeration."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from members.adapters.models import Member
from members.service_layer import services_of
from members.service_layer.housekeeping import housekeeping_job
from sqlalchemy import select, update
from uskalla_events.tables import EventTables
from uskalla_kit import Runtime

Unseal = Callable[[str], str]

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
    assert event["data"]["valid_hours"] == 7 * 24  # CONFIRM_TOKEN_TTL_DAYS, for the e-mail
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


def test_same_answer_for_known_and_unknown_addresses(
    client: FlaskClient, runtime: Runtime, unseal: Unseal
) -> None:
    first = client.post("/api/v1/members", json=GOOD)
    token = unseal(outbox(runtime)[0]["data"]["token"])
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


def test_confirm_activates_once_and_is_idempotent(
    client: FlaskClient, runtime: Runtime, unseal: Unseal
) -> None:
    client.post("/api/v1/members", json=GOOD)
    token = unseal(outbox(runtime)[0]["data"]["token"])
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


def test_joining_again_while_pending_replaces_the_token(
    client: FlaskClient, runtime: Runtime, unseal: Unseal
) -> None:
    client.post("/api/v1/members", json=GOOD)
    client.post("/api/v1/members", json={**GOOD, "name": "Maija M."})
    first, second = (unseal(e["data"]["token"]) for e in outbox(runtime))
    assert first != second
    assert client.post("/api/v1/members/confirm", json={"token": first}).status_code == 400
    confirmed = client.post("/api/v1/members/confirm", json={"token": second})
    assert confirmed.status_code == 200 and confirmed.json["name"] == "Maija M."


def test_confirmation_token_expires_after_7_days(
    client: FlaskClient, runtime: Runtime, unseal: Unseal
) -> None:
    client.post("/api/v1/members", json=GOOD)
    token = unseal(outbox(runtime)[0]["data"]["token"])
    with runtime.db.transaction() as session:
        member = session.scalars(select(Member)).one()
        left = member.confirm_expires_at - datetime.now(UTC)  # type: ignore[operator]
        assert timedelta(days=6, hours=23) < left <= timedelta(days=7)
        member.confirm_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    answer = client.post("/api/v1/members/confirm", json={"token": token})
    assert answer.status_code == 400
    assert answer.content_type == "application/problem+json"


def test_enumeration_byte_identical_for_pending_active_unknown_and_deactivated(
    client: FlaskClient, add_member: Callable[..., Member]
) -> None:
    add_member(email="active@example.fi")
    add_member(email="closed@example.fi", status="deactivated")
    client.post("/api/v1/members", json={**GOOD, "email": "pending@example.fi"})
    answers = [
        client.post("/api/v1/members", json={**GOOD, "email": e})
        for e in ("active@example.fi", "closed@example.fi", "pending@example.fi", "new@example.fi")
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_data() for a in answers}) == 1
    assert len({tuple(sorted(k for k, _ in a.headers.items())) for a in answers}) == 1


def test_deactivated_member_joining_gets_nothing(
    client: FlaskClient, runtime: Runtime, add_member: Callable[..., Member]
) -> None:
    add_member(email="closed@example.fi", status="deactivated")
    client.post("/api/v1/members", json={**GOOD, "email": "closed@example.fi"})
    assert outbox(runtime) == []
    with runtime.db.transaction() as session:
        assert session.scalars(select(Member)).one().status == "deactivated"


def test_bootstrap_coordinator_becomes_coordinator_on_confirm(
    client: FlaskClient, runtime: Runtime, unseal: Unseal
) -> None:
    runtime.extra["settings"].bootstrap_coordinators = frozenset({"maija.meikalainen@example.fi"})
    client.post("/api/v1/members", json=GOOD)
    token = unseal(outbox(runtime)[0]["data"]["token"])
    assert client.post("/api/v1/members/confirm", json={"token": token}).json["role"] == (
        "coordinator"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": None}, "email"),
        ({"email": "a@b"}, "email"),
        ({"name": "x" * 201}, "name"),
        ({"name": "   "}, "name"),
        ({"organisation": "x" * 201}, "organisation"),
        ({"title": "x" * 201}, "title"),
        ({"municipality_code": "49"}, "municipality_code"),
        ({"language": "FI"}, "language"),
        ({"newsletter": "perhaps"}, "newsletter"),
        ({"consent": None}, "consent"),
        ({"password": "hunter2"}, "password"),
    ],
)
def test_each_join_field_is_validated(
    client: FlaskClient, runtime: Runtime, changes: dict[str, Any], field: str
) -> None:
    answer = client.post("/api/v1/members", json={**GOOD, **changes})
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == [field]
    assert outbox(runtime) == []


def test_missing_consent_and_name_are_required(client: FlaskClient) -> None:
    body = {k: v for k, v in GOOD.items() if k not in ("consent", "name")}
    answer = client.post("/api/v1/members", json=body)
    assert set(answer.json["errors"]) == {"consent", "name"}


def test_body_must_be_a_json_object(client: FlaskClient) -> None:
    assert client.post("/api/v1/members", json=[GOOD]).status_code == 422
    assert client.post("/api/v1/members", data="email=x").status_code == 415
    huge = client.post("/api/v1/members", json={**GOOD, "name": "x" * 300_000})
    assert huge.status_code == 413


def test_expired_pending_members_are_removed_with_their_events(
    client: FlaskClient, runtime: Runtime, add_member: Callable[..., Member]
) -> None:
    client.post("/api/v1/members", json=GOOD)
    client.post("/api/v1/members", json={**GOOD, "email": "fresh@example.fi"})
    keep = add_member(email="active@example.fi")
    with runtime.db.transaction() as session:
        session.execute(
            update(Member)
            .where(Member.email == "maija.meikalainen@example.fi")
            .values(confirm_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert len(runtime.relay_jobs) == 2  # the relay process acts on requests, and sweeps
    assert runtime.relay_jobs[1]() == 1
    job = housekeeping_job(runtime.db, services_of(runtime), interval=0)
    assert job() == 0
    with runtime.db.transaction() as session:
        emails = set(session.scalars(select(Member.email)))
    assert emails == {"fresh@example.fi", keep.email}
    events = outbox(runtime)
    assert "maija.meikalainen@example.fi" not in json.dumps(events)
    assert [e["type"] for e in events] == [
        "members.member.registered.v1",
        "members.member.erased.v1",
    ]
