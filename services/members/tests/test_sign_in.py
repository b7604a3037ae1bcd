"""Passwordless sign-in: same answer for every address, single-use 15-minute links, EdDSA JWTs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from members.adapters.models import Member, SignInToken
from sqlalchemy import select, update
from uskalla_kit import Runtime

Events = Callable[..., list[dict[str, Any]]]
Unseal = Callable[[str], str]


def ask(client: FlaskClient, email: str) -> Any:
    return client.post("/api/v1/auth/sign-in", json={"email": email})


def link_token(events: Events, unseal: Unseal) -> str:
    """The working token of the latest link (the event carries it sealed)."""
    return unseal(events("members.sign_in.requested.v1")[-1]["data"]["token"])


def test_active_member_gets_a_link_and_a_jwt(
    client: FlaskClient,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
    jwt_keys: tuple[Path, Path],
) -> None:
    member = add_member(email="anna@example.fi", role="coordinator", language="sv")
    answer = ask(client, "Anna@Example.FI")
    assert answer.status_code == 202
    [event] = events("members.sign_in.requested.v1")
    assert event["data"] | {"token": "-"} == {
        "member_id": str(member.id),
        "email": "anna@example.fi",
        "name": member.name,
        "language": "sv",
        "token": "-",
        "valid_minutes": 15,
    }
    exchanged = client.post("/api/v1/auth/token", json={"token": unseal(event["data"]["token"])})
    assert exchanged.status_code == 200
    assert exchanged.headers["Cache-Control"] == "no-store"
    body = exchanged.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = jwt.decode(
        body["access_token"],
        jwt_keys[1].read_text(),
        algorithms=["EdDSA"],
        audience="uskalla",
        issuer="uskalla-members",
    )
    assert claims["sub"] == str(member.id) and claims["role"] == "coordinator"
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"
    # The token works on this service's own endpoints.
    me = client.get(
        "/api/v1/members/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200 and me.json["id"] == str(member.id)


def test_same_answer_for_known_unknown_pending_and_deactivated(
    client: FlaskClient, add_member: Callable[..., Member], events: Events
) -> None:
    add_member(email="known@example.fi")
    add_member(email="pending@example.fi", status="pending", joined_at=None)
    add_member(email="closed@example.fi", status="deactivated")
    answers = [
        ask(client, e)
        for e in (
            "known@example.fi",
            "nobody@example.fi",
            "pending@example.fi",
            "closed@example.fi",
        )
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_data() for a in answers}) == 1
    assert {k for a in answers for k, _ in a.headers.items()} == {
        k for k, _ in answers[1].headers.items()
    }
    assert [e["data"]["email"] for e in events("members.sign_in.requested.v1")] == [
        "known@example.fi"
    ]


def test_sign_in_link_is_single_use(
    client: FlaskClient,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    add_member(email="once@example.fi")
    ask(client, "once@example.fi")
    token = link_token(events, unseal)
    assert client.post("/api/v1/auth/token", json={"token": token}).status_code == 200
    again = client.post("/api/v1/auth/token", json={"token": token})
    assert again.status_code == 400
    assert again.content_type == "application/problem+json"


def test_sign_in_link_expires_after_15_minutes(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    add_member(email="late@example.fi")
    ask(client, "late@example.fi")
    token = link_token(events, unseal)
    with runtime.db.transaction() as session:
        row = session.scalars(select(SignInToken)).one()
        assert timedelta(minutes=14) < row.expires_at - datetime.now(UTC) <= timedelta(minutes=15)
        assert row.token_hash != token  # only a hash is stored
        session.execute(
            update(SignInToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert client.post("/api/v1/auth/token", json={"token": token}).status_code == 400


def test_deactivated_after_asking_cannot_exchange(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    member = add_member(email="gone@example.fi")
    ask(client, "gone@example.fi")
    with runtime.db.transaction() as session:
        session.execute(update(Member).where(Member.id == member.id).values(status="deactivated"))
    answer = client.post("/api/v1/auth/token", json={"token": link_token(events, unseal)})
    assert answer.status_code == 400


def test_unknown_token_is_400(client: FlaskClient) -> None:
    assert client.post("/api/v1/auth/token", json={"token": "x" * 43}).status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": "not an address"}, "email"),
        ({"email": "a" * 250 + "@example.fi"}, "email"),
        ({"email": 42}, "email"),
        ({"email": "a@example.fi", "extra": 1}, "extra"),
    ],
)
def test_sign_in_validation(
    client: FlaskClient, events: Events, body: dict[str, Any], field: str
) -> None:
    answer = client.post("/api/v1/auth/sign-in", json=body)
    assert answer.status_code == 422
    assert field in answer.json["errors"]
    assert events() == []


@pytest.mark.parametrize(
    ("body", "field"), [({}, "token"), ({"token": ""}, "token"), ({"token": "x" * 201}, "token")]
)
def test_token_validation(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    answer = client.post("/api/v1/auth/token", json=body)
    assert answer.status_code == 422 and field in answer.json["errors"]


def test_not_json_is_415_and_malformed_is_400(client: FlaskClient) -> None:
    assert client.post("/api/v1/auth/sign-in", data="email=a@b.fi").status_code == 415
    bad = client.post("/api/v1/auth/token", data="{", content_type="application/json")
    assert bad.status_code == 400


def test_bootstrap_coordinator_is_promoted_at_sign_in(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    member = add_member(email="boss@kuntaliitto.fi")
    runtime.extra["settings"].bootstrap_coordinators = frozenset({"boss@kuntaliitto.fi"})
    ask(client, "boss@kuntaliitto.fi")
    answer = client.post("/api/v1/auth/token", json={"token": link_token(events, unseal)})
    claims = jwt.decode(answer.json["access_token"], options={"verify_signature": False})
    assert claims["role"] == "coordinator"
    [updated] = events("members.member.updated.v1")
    assert (
        updated["data"]["member_id"] == str(member.id) and updated["data"]["role"] == "coordinator"
    )


def test_exchange_clears_the_undeliverable_mark(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    member = add_member(email="bounced@example.fi", undeliverable=True)
    ask(client, "bounced@example.fi")
    assert events("members.sign_in.requested.v1"), "undeliverable addresses still get their link"
    client.post("/api/v1/auth/token", json={"token": link_token(events, unseal)})
    with runtime.db.transaction() as session:
        assert session.get(Member, member.id).undeliverable is False  # type: ignore[union-attr]


def test_housekeeping_forgets_spent_links_after_a_day(
    client: FlaskClient, runtime: Runtime, add_member: Callable[..., Member], events: Events
) -> None:
    from members.service_layer import services_of
    from members.service_layer.housekeeping import housekeeping_job

    add_member(email="tidy@example.fi")
    for _ in range(3):
        ask(client, "tidy@example.fi")
    old = datetime.now(UTC) - timedelta(days=2)
    with runtime.db.transaction() as session:
        first, second, _ = session.scalars(select(SignInToken).order_by(SignInToken.created_at))
        first.used_at = old
        second.expires_at = old
    housekeeping_job(runtime.db, services_of(runtime), interval=0)()
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(SignInToken)).all()) == 1


def preview(client: FlaskClient, token: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/internal/v1/sign-in/preview",
        json={"token": token},
        headers={"X-Internal-Token": "test-internal-token"} if headers is None else headers,
    )


def test_preview_names_whom_a_link_signs_in_and_spends_nothing(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    member = add_member(email="katso@example.fi", name="Katja Katsoja", language="sv")
    ask(client, member.email)
    token = link_token(events, unseal)
    before = every_row(runtime)
    for _ in range(2):
        answer = preview(client, token)
        assert answer.status_code == 200
        assert answer.json == {
            "email": "katso@example.fi",
            "name": "Katja Katsoja",
            "language": "sv",
        }
        assert answer.headers["Cache-Control"] == "no-store"
    assert every_row(runtime) == before  # nothing written, the link not spent
    assert client.post("/api/v1/auth/token", json={"token": token}).status_code == 200
    used = preview(client, token)
    assert used.status_code == 404 and used.content_type == "application/problem+json"


def test_preview_of_expired_unknown_and_deactivated_links_is_404(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    late, closed = add_member(), add_member()
    ask(client, late.email)
    expired = link_token(events, unseal)
    ask(client, closed.email)
    deactivated = link_token(events, unseal)
    with runtime.db.transaction() as session:
        session.execute(
            update(SignInToken)
            .where(SignInToken.member_id == late.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.execute(update(Member).where(Member.id == closed.id).values(status="deactivated"))
    for token in (expired, deactivated, "x" * 43):
        assert preview(client, token).status_code == 404
    assert preview(client, "").status_code == 422


def test_preview_is_for_the_gateway_only(
    client: FlaskClient, add_member: Callable[..., Member], events: Events, unseal: Unseal
) -> None:
    member = add_member()
    ask(client, member.email)
    token = link_token(events, unseal)
    for headers in ({}, {"X-Internal-Token": "wrong"}):
        refused = preview(client, token, headers)
        assert refused.status_code == 401 and refused.content_type == "application/problem+json"
    assert "email" not in refused.get_data(as_text=True)


def every_row(runtime: Runtime) -> list[Any]:
    with runtime.db.transaction() as session:
        members = session.execute(select(Member.__table__)).all()
        links = session.execute(select(SignInToken.__table__)).all()
    return [*members, *links]
