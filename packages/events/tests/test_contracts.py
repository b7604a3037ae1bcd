"""The catalogue's payloads: typed objects on both sides, the same JSON on the wire as before."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from uskalla_events import CONTRACTS, Envelope, EventHandlers, load_payload, new_envelope
from uskalla_events.contracts import (
    AddressBounced,
    CommentPosted,
    GatheringPublished,
    MemberJoined,
    MemberRegistered,
    contract_of,
)
from uskalla_events.payloads import Payload
from uskalla_events.vocabulary import GatheringKind, Language, RegistrationStatus, Role

MEMBER = "0b6f4a52-8f0e-4a8e-9f43-3f0d6c1b2a11"
OTHER = "5d2c1e0a-7b3f-4c49-8a61-2e9f0d7c6b54"
GATHERING = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
EXPERIMENT = "c0ffee00-1234-4abc-8def-0123456789ab"

#: One payload per contract in its JSON form, as the producers write it today.
EXAMPLES: dict[str, dict[str, Any]] = {
    "members.member.registered.v1": {
        "member_id": MEMBER,
        "email": "aino@example.fi",
        "name": "Aino",
        "language": "fi",
        "token": "sealed:gAAAAAB",
        "already_member": False,
        "valid_hours": 168,
    },
    "members.member.joined.v1": {
        "member_id": MEMBER,
        "email": "aino@example.fi",
        "name": "Aino",
        "language": "fi",
        "organisation": "Espoon kaupunki",
        "municipality_code": "049",
        "newsletter": True,
        "invitations": False,
        "role": "member",
        "joined_at": "2026-11-27T10:00:00.123456+00:00",
        "themes": ["digital-municipality"],
        "municipality_codes": ["049", "091"],
        "digest": "weekly",
        "follows": True,
        "comments": False,
    },
    "members.member.updated.v1": {
        "member_id": MEMBER,
        "email": "aino@example.fi",
        "name": "Aino A.",
        "language": "sv",
        "organisation": "",
        "municipality_code": None,
        "role": "coordinator",
        "active": False,
        "themes": [],
    },
    "members.subscriptions.changed.v1": {
        "member_id": MEMBER,
        "newsletter": False,
        "invitations": True,
        "follows": None,
        "comments": False,
    },
    "members.interests.changed.v1": {
        "member_id": MEMBER,
        "themes": ["hyvinvointi"],
        "municipality_codes": [],
        "digest": "daily",
    },
    "members.sign_in.requested.v1": {
        "member_id": MEMBER,
        "email": "aino@example.fi",
        "name": "Aino",
        "language": "en",
        "token": "sealed:gAAAAAB",
        "valid_minutes": 15,
    },
    "members.member.erased.v1": {"member_id": MEMBER},
    "members.gathering.published.v1": {
        "gathering_id": GATHERING,
        "title": "Kokeilufoorumi",
        "kind": "tarinapaja",
        "starts_at": "2026-05-12T10:00:00+00:00",
        "ends_at": "2026-05-12T13:00:00+00:00",
        "location": "Helsinki",
        "online_url": None,
        "language": "fi",
        "description": "",
        "sequence": 0,
    },
    "members.gathering.changed.v1": {
        "gathering_id": GATHERING,
        "title": "Kokeilufoorumi",
        "kind": "forum",
        "starts_at": "2026-05-13T10:00:00+00:00",
        "ends_at": "2026-05-13T13:00:00+00:00",
        "location": None,
        "online_url": "https://meet.example.fi/foorumi",
        "language": "sv",
        "description": "",
        "sequence": 2,
        "changed": ["starts_at", "ends_at", "online_url"],
    },
    "members.gathering.cancelled.v1": {"gathering_id": GATHERING, "sequence": 3},
    "members.registration.changed.v1": {
        "gathering_id": GATHERING,
        "member_id": MEMBER,
        "status": "waitlisted",
        "title": "Kokeilufoorumi",
        "starts_at": "2026-05-12T10:00:00+00:00",
    },
    "experiments.experiment.published.v1": {
        "experiment_id": EXPERIMENT,
        "title": "Kirjastoauto",
        "summary": "",
        "themes": ["digikuntakokeilut"],
        "municipality_codes": ["049", "091"],
        "published_at": "2026-03-01T08:30:00.500000+00:00",
    },
    "experiments.comment.posted.v1": {
        "comment_id": OTHER,
        "experiment_id": EXPERIMENT,
        "experiment_title": "Kirjastoauto",
        "author_id": MEMBER,
        "owner_ids": [MEMBER, OTHER],
        "follower_ids": [OTHER],
        "posted_at": "2026-03-02T08:30:00+00:00",
    },
    "experiments.experiment.stage_changed.v1": {
        "experiment_id": EXPERIMENT,
        "title": "Kirjastoauto",
        "stage": "running",
        "previous_stage": "planning",
        "actor_id": MEMBER,
        "follower_ids": [MEMBER, OTHER],
        "changed_at": "2026-03-03T08:30:00+00:00",
    },
    "experiments.experiment.evaluated.v1": {
        "experiment_id": EXPERIMENT,
        "title": "Kirjastoauto",
        "outcome": "failed",
        "first": True,
        "actor_id": None,
        "follower_ids": [OTHER],
        "evaluated_at": "2026-03-04T08:30:00+00:00",
    },
    "notifications.address.bounced.v1": {
        "email": "aino@example.fi",
        "member_id": None,
        "reason": "550 <address> unknown",
    },
    "notifications.address.complained.v1": {"email": "aino@example.fi", "member_id": MEMBER},
    "notifications.address.reinstated.v1": {"email": "aino@example.fi", "member_id": None},
}


def test_every_contract_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(CONTRACTS)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_each_example_round_trips_json_to_object_to_json_unchanged(event_type: str) -> None:
    wire = json.dumps(EXAMPLES[event_type], sort_keys=True)
    payload = load_payload(event_type, json.loads(wire))
    assert type(payload) is CONTRACTS[event_type].payload
    envelope = new_envelope(payload)
    assert envelope.type == event_type
    assert json.dumps(json.loads(json.dumps(envelope.to_dict()))["data"], sort_keys=True) == wire


def test_loaded_payloads_carry_uuids_aware_times_and_enums() -> None:
    joined = load_payload("members.member.joined.v1", EXAMPLES["members.member.joined.v1"])
    assert isinstance(joined, MemberJoined)
    assert joined.member_id == uuid.UUID(MEMBER)
    assert joined.language is Language.FI and joined.role is Role.MEMBER
    assert joined.joined_at == datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    gathering = load_payload(
        "members.gathering.published.v1", EXAMPLES["members.gathering.published.v1"]
    )
    assert isinstance(gathering, GatheringPublished)
    assert gathering.kind is GatheringKind.TARINAPAJA
    comment = load_payload(
        "experiments.comment.posted.v1", EXAMPLES["experiments.comment.posted.v1"]
    )
    assert isinstance(comment, CommentPosted)
    assert comment.owner_ids == [uuid.UUID(MEMBER), uuid.UUID(OTHER)]
    changed = load_payload(
        "members.registration.changed.v1", EXAMPLES["members.registration.changed.v1"]
    )
    assert changed.status is RegistrationStatus.WAITLISTED  # type: ignore[attr-defined]


def test_older_and_newer_producers_are_understood() -> None:
    """Within a version fields are only added: an absent one takes its default, an unknown
    one is ignored."""
    older = {
        k: v for k, v in EXAMPLES["members.member.registered.v1"].items() if k != "valid_hours"
    }
    registered = load_payload("members.member.registered.v1", {**older, "shoe_size": 43})
    assert isinstance(registered, MemberRegistered)
    assert registered.valid_hours is None
    assert "shoe_size" not in new_envelope(registered).data


def test_a_payload_that_breaks_its_contract_is_refused_on_either_side() -> None:
    bad = {**EXAMPLES["members.registration.changed.v1"], "status": "maybe", "member_id": "x"}
    with pytest.raises(ValidationError) as refused:
        load_payload("members.registration.changed.v1", bad)
    assert set(refused.value.messages_dict) == {"status", "member_id"}
    with pytest.raises(ValidationError, match="aware"):
        load_payload(
            "members.registration.changed.v1",
            {**EXAMPLES["members.registration.changed.v1"], "starts_at": "2026-05-12T10:00:00"},
        )
    # A producer's naive time or malformed address never reaches the outbox.
    with pytest.raises(ValidationError):
        new_envelope(AddressBounced(email="not an address"))
    joined = load_payload("members.member.joined.v1", EXAMPLES["members.member.joined.v1"])
    naive = MemberJoined(**{**vars(joined), "joined_at": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError):
        new_envelope(naive)


def test_times_travel_as_utc() -> None:
    helsinki = timezone(timedelta(hours=2))
    joined = load_payload("members.member.joined.v1", EXAMPLES["members.member.joined.v1"])
    local = MemberJoined(**{**vars(joined), "joined_at": datetime(2026, 1, 1, 12, tzinfo=helsinki)})
    assert new_envelope(local).data["joined_at"] == "2026-01-01T10:00:00+00:00"


def test_handlers_are_registered_by_payload_class_for_contracted_consumers_only() -> None:
    handlers = EventHandlers("notifications")

    @handlers.on(MemberJoined)
    def joined(session: Session, event: Envelope, payload: MemberJoined) -> None:
        raise AssertionError("not called here")

    assert handlers.get("members.member.joined.v1") is joined
    assert "members.member.joined.v1" not in handlers.missing()
    with pytest.raises(ValueError, match="not a consumer"):
        handlers.on(AddressBounced)  # members consumes it, not notifications

    class Stray(Payload):
        pass

    with pytest.raises(TypeError, match="not an event payload"):
        contract_of(Stray)
