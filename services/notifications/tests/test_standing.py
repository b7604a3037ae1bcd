"""Every request's token is checked against the member's standing as the members events last
told it: a demoted coordinator's old token is a member's (403), a deactivated or erased
member's old token is refused (401), as soon as the event is handled."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from notifications.adapters.models import Delivery, Recipient
from sqlalchemy import select
from uskalla_events import TemporaryFailure, load_payload, new_envelope
from uskalla_kit.openapi import ATTRIBUTE

from .conftest import Service


def member_data(member_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "email": "kaisa@kuntaliitto.fi",
        "name": "Kaisa K",
        "language": "fi",
        "organisation": "Kuntaliitto",
        "municipality_code": None,
        "newsletter": False,
        "invitations": False,
        "role": "coordinator",
        "joined_at": datetime.now(UTC).isoformat(),
    } | extra


def updated(member_id: str, **extra: Any) -> dict[str, Any]:
    data = member_data(member_id, **extra)
    return {k: v for k, v in data.items() if k not in ("newsletter", "invitations", "joined_at")}


def ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def signed_in_operations(app: Flask, newsletter_id: str) -> list[tuple[str, str]]:
    """Every operation of the public API that needs a signed-in caller (not the archive's)."""
    found = []
    for rule in app.url_map.iter_rules():
        operation = getattr(app.view_functions[rule.endpoint], ATTRIBUTE, None)
        if not rule.rule.startswith("/api/v1/") or operation is None or operation.auth is None:
            continue
        # The draft for a newsletter's id; any other object's id is made up (the caller's
        # standing is refused before the object is looked for).
        path = rule.rule.replace("<uuid:newsletter_id>", newsletter_id)
        path = re.sub(r"<uuid:[a-z_]+>", str(uuid.uuid4()), path)
        found += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.fixture
def known_coordinator(
    service: Service, client: FlaskClient, make_token: Callable[..., str]
) -> tuple[str, dict[str, str], str]:
    """A coordinator as members announced them, with their token and a draft of theirs."""
    member_id = str(uuid.uuid4())
    service.handle("members.member.joined.v1", member_data(member_id), occurred_at=ago(10))
    headers = {"Authorization": f"Bearer {make_token(member_id, role='coordinator')}"}
    draft = client.post("/api/v1/newsletters", json={"subject": "S", "body": "B"}, headers=headers)
    assert draft.status_code == 201
    return member_id, headers, draft.json["id"]


def test_a_demoted_coordinators_old_token_may_do_no_coordinator_operation(
    service: Service, client: FlaskClient, known_coordinator: tuple[str, dict[str, str], str]
) -> None:
    member_id, headers, draft = known_coordinator
    operations = signed_in_operations(client.application, draft)
    assert ("POST", "/api/v1/newsletters") in operations and len(operations) >= 9

    service.handle("members.member.updated.v1", updated(member_id, role="member"))
    for method, path in operations:
        answer = client.open(path, method=method, json={}, headers=headers)
        assert answer.status_code == 403, (method, path, answer.status_code)
    with service.runtime.db.transaction() as session:
        assert session.get(Recipient, uuid.UUID(member_id)).role == "member"

    # An older event arriving late (from before the demotion) gives nothing back.
    service.handle("members.member.updated.v1", updated(member_id), occurred_at=ago(5))
    service.handle("members.member.joined.v1", member_data(member_id), occurred_at=ago(10))
    assert client.post("/api/v1/newsletters", json={}, headers=headers).status_code == 403


@pytest.mark.parametrize("how", ["deactivated", "erased"])
def test_a_deactivated_or_erased_members_old_token_is_refused_everywhere(
    service: Service,
    client: FlaskClient,
    make_token: Callable[..., str],
    known_coordinator: tuple[str, dict[str, str], str],
    how: str,
) -> None:
    member_id, headers, draft = known_coordinator
    member_headers = {"Authorization": f"Bearer {make_token(member_id)}"}
    if how == "deactivated":
        service.handle("members.member.updated.v1", updated(member_id, active=False))
    else:
        service.handle("members.member.erased.v1", {"member_id": member_id})
    for method, path in signed_in_operations(client.application, draft):
        for token in (headers, member_headers):
            answer = client.open(path, method=method, json={}, headers=token)
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_late_event_never_brings_an_erased_member_back(
    service: Service, client: FlaskClient, known_coordinator: tuple[str, dict[str, str], str]
) -> None:
    member_id, headers, _ = known_coordinator
    service.handle("members.member.erased.v1", {"member_id": member_id})
    gathering_id = str(uuid.uuid4())
    late = [
        ("members.member.joined.v1", member_data(member_id, email="back@example.fi")),
        ("members.member.updated.v1", updated(member_id, email="back@example.fi")),
        (
            "members.subscriptions.changed.v1",
            {"member_id": member_id, "newsletter": True, "invitations": True},
        ),
        (
            "members.sign_in.requested.v1",
            {
                "member_id": member_id,
                "email": "back@example.fi",
                "name": "Kaisa K",
                "language": "fi",
                "token": service.seal("t"),
            },
        ),
        (
            "members.registration.changed.v1",
            {
                "gathering_id": gathering_id,
                "member_id": member_id,
                "status": "registered",
                "title": "Foorumi",
                "starts_at": "2027-05-20T09:00:00Z",
            },
        ),
    ]
    for event_type, data in late:
        service.handle(event_type, data, occurred_at=ago(1))  # handled: no retry, no mail
    service.tasks.drain()
    assert service.mails() == []
    with service.runtime.db.transaction() as session:
        assert session.get(Recipient, uuid.UUID(member_id)) is None
        assert set(session.scalars(select(Delivery.email)).all()) == {
            f"erased-{d}@invalid" for d in session.scalars(select(Delivery.id)).all()
        }
    assert client.get("/api/v1/newsletters", headers=headers).status_code == 401


def test_a_token_of_a_member_not_heard_of_yet_or_of_unknown_role_is_trusted(
    service: Service, client: FlaskClient, make_token: Callable[..., str]
) -> None:
    stranger = {"Authorization": f"Bearer {make_token(str(uuid.uuid4()), role='coordinator')}"}
    assert client.get("/api/v1/newsletters", headers=stranger).status_code == 200
    # A recipient from before roles were kept here: the token's role stands until an event.
    member_id = service.add_recipient(role=None)
    old = {"Authorization": f"Bearer {make_token(str(member_id), role='coordinator')}"}
    assert client.get("/api/v1/newsletters", headers=old).status_code == 200


def test_an_update_before_the_joined_event_waits_for_it(
    service: Service, client: FlaskClient, make_token: Callable[..., str]
) -> None:
    member_id = str(uuid.uuid4())
    demoted = new_envelope(
        load_payload("members.member.updated.v1", updated(member_id, role="member"))
    )
    with pytest.raises(TemporaryFailure):  # retried later, not lost
        service.runtime.events.consumer.handle(demoted)
    service.handle("members.member.joined.v1", member_data(member_id), occurred_at=ago(10))
    assert service.runtime.events.consumer.handle(demoted)
    headers = {"Authorization": f"Bearer {make_token(member_id, role='coordinator')}"}
    assert client.get("/api/v1/newsletters", headers=headers).status_code == 403
