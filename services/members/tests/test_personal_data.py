"""Personal data: the member's export, the gateway's internal export, and erasure."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from flask.testing import FlaskClient
from members.adapters.models import Gathering, Member
from members.service_layer import services_of
from uskalla_kit import Runtime

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]
INTERNAL = {"X-Internal-Token": "test-internal-token"}


def test_export_holds_profile_consent_and_registrations(
    client: FlaskClient,
    add_member: Callable[..., Member],
    add_gathering: Callable[..., Gathering],
    auth: Auth,
) -> None:
    member = add_member(privacy_notice_version="2026-01")
    g = add_gathering()
    client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(member))
    answer = client.get("/api/v1/members/me/export", headers=auth(member))
    assert answer.status_code == 200
    document = answer.json
    assert document["member"]["email"] == member.email
    assert document["member"]["consent"]["privacy_notice_version"] == "2026-01"
    assert document["member"]["consent"]["given_at"]
    assert document["member"]["status"] == "active"
    [registration] = document["registrations"]
    assert registration["gathering_id"] == str(g.id) and registration["status"] == "registered"
    internal = client.get(f"/internal/v1/members/{member.id}/export", headers=INTERNAL)
    assert internal.status_code == 200 and internal.json == document


def test_export_authorisation(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth
) -> None:
    member = add_member()
    assert client.get("/api/v1/members/me/export").status_code == 401
    assert (
        client.get("/api/v1/members/me/export", headers=auth(add_member(status="deactivated")))
    ).status_code == 403
    url = f"/internal/v1/members/{member.id}/export"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-Internal-Token": "wrong"}).status_code == 401
    assert client.get(url, headers=auth(member)).status_code == 401  # a JWT is not the gateway
    unknown = client.get(f"/internal/v1/members/{uuid.uuid4()}/export", headers=INTERNAL)
    assert unknown.status_code == 404


def every_row_as_text(runtime: Runtime) -> str:
    dsn = runtime.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return "\n".join(
            str(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"').fetchall()
        )


def test_erasure_removes_the_member_everywhere_here(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    add_gathering: Callable[..., Gathering],
    auth: Auth,
    events: Events,
    unseal: Callable[[str], str],
) -> None:
    # Join through the API so that the outbox carries the address, name and tokens.
    client.post(
        "/api/v1/members",
        json={
            "email": "poistuva@example.fi",
            "name": "Pirjo Poistuva",
            "organisation": "Lahti",
            "consent": True,
        },
    )
    token = unseal(events("members.member.registered.v1")[0]["data"]["token"])
    member_id = client.post("/api/v1/members/confirm", json={"token": token}).json["id"]
    client.post("/api/v1/auth/sign-in", json={"email": "poistuva@example.fi"})
    me = Member(id=uuid.UUID(member_id), role="member")
    client.patch("/api/v1/members/me", json={"newsletter": False}, headers=auth(me))
    g = add_gathering(capacity=1)
    waiting = add_member()
    client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(me))
    client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(waiting))
    other = add_member(email="stays@example.fi")
    with runtime.db.transaction() as session:  # a request the relay has not acted on yet
        services_of(runtime).intake.accept(
            session, "join", {"email": "Poistuva@Example.fi", "name": "Pirjo Poistuva"}
        )

    answer = client.delete("/api/v1/members/me", headers=auth(me))
    assert answer.status_code == 202

    text = every_row_as_text(runtime)
    assert "poistuva@example.fi" not in text and "Pirjo Poistuva" not in text
    assert member_id not in text.replace(f"'member_id': '{member_id}'", "")  # only the erased event
    assert other.email in text
    # Events of one transaction share created_at: find them by type, not by position.
    [erased] = events("members.member.erased.v1")
    assert erased["data"] == {"member_id": member_id}
    promoted = events("members.registration.changed.v1")[-1]["data"]
    assert (promoted["member_id"], promoted["status"]) == (str(waiting.id), "promoted")
    assert not any(
        e["data"].get("member_id") == member_id and e["type"].endswith("registration.changed.v1")
        for e in events()
    )
    # The old token no longer names anyone; erasing again is 401, not a 500.
    assert client.get("/api/v1/members/me", headers=auth(me)).status_code == 401
    assert client.delete("/api/v1/members/me", headers=auth(me)).status_code == 401
    assert json.dumps(client.get(f"/api/v1/gatherings/{g.id}").json)
    assert client.get(f"/api/v1/gatherings/{g.id}").json["registered"] == 1


def test_erasure_authorisation(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth
) -> None:
    assert client.delete("/api/v1/members/me").status_code == 401
    closed = add_member(status="deactivated")
    assert client.delete("/api/v1/members/me", headers=auth(closed)).status_code == 403


def test_coordinator_who_created_gatherings_can_be_erased(
    client: FlaskClient,
    coordinator: Member,
    add_gathering: Callable[..., Gathering],
    auth: Auth,
) -> None:
    g = add_gathering()
    assert client.delete("/api/v1/members/me", headers=auth(coordinator)).status_code == 202
    assert client.get(f"/api/v1/gatherings/{g.id}").status_code == 200
