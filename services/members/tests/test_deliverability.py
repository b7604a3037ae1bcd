"""What notifications reports about an address: a complaint turns every list off (and
notifications hears of it), a lifted suppression makes the address deliverable again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from members.adapters.models import Member
from uskalla_events import new_envelope
from uskalla_events.contracts import AddressComplained, AddressReinstated
from uskalla_kit import Runtime

Events = Callable[..., list[dict[str, Any]]]


def test_a_complaint_turns_every_list_off(
    runtime: Runtime, add_member: Callable[..., Member], events: Events
) -> None:
    member = add_member(email="valittaja@example.fi", newsletter=True, invitations=True)
    envelope = new_envelope(AddressComplained(email="Valittaja@Example.fi", member_id=member.id))
    assert runtime.events.consumer.handle(envelope) is True
    assert runtime.events.consumer.handle(envelope) is False  # a redelivery is a no-op
    with runtime.db.transaction() as session:
        row = session.get(Member, member.id)
        assert row is not None and not row.newsletter and not row.invitations
    [changed] = events("members.subscriptions.changed.v1")
    assert changed["data"]["newsletter"] is False and changed["data"]["invitations"] is False
    unknown = new_envelope(AddressComplained(email="x@example.fi"))
    assert runtime.events.consumer.handle(unknown) is True


def test_a_lifted_suppression_makes_the_address_deliverable(
    runtime: Runtime,
    add_member: Callable[..., Member],
    client: FlaskClient,
    auth: Callable[[Member], dict[str, str]],
) -> None:
    member = add_member(email="takaisin@example.fi", undeliverable=True)
    # The member's own profile says so (their page tells them what to do).
    assert client.get("/api/v1/members/me", headers=auth(member)).json["undeliverable"] is True
    assert runtime.events.consumer.handle(
        new_envelope(AddressReinstated(email="takaisin@example.fi", member_id=member.id))
    )
    with runtime.db.transaction() as session:
        assert session.get(Member, member.id).undeliverable is False  # type: ignore[union-attr]
    assert client.get("/api/v1/members/me", headers=auth(member)).json["undeliverable"] is False
