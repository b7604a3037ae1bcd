"""The event catalogue: every event's payload schema, producer and consumers, in one place.

Routing key = event type. Within a version, payloads only gain fields (consumers ignore
unknown ones); a breaking change is a new version with a new type.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

LANG = validate.OneOf(["fi", "sv", "en"])
#: Payload fields that carry a one-time link token: always sealed (`uskalla_kit.sealed`), so
#: an event at rest (outbox, inbox, dead letters, broker) never holds a token that works.
SECRET_FIELDS = ("token",)
SEALED_PREFIX = "sealed:"


def withhold_secrets(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with any secret field that is not sealed replaced, for keeping at rest."""
    data = envelope.get("data")
    if not isinstance(data, dict):
        return envelope
    exposed = [
        f
        for f in SECRET_FIELDS
        if isinstance(data.get(f), str) and not data[f].startswith(SEALED_PREFIX)
    ]
    if not exposed:
        return envelope
    return {**envelope, "data": {**data, **dict.fromkeys(exposed, "[withheld: not sealed]")}}


class Payload(Schema):
    class Meta:
        unknown = EXCLUDE  # newer producers may add fields within a version


class MemberRegistered(Payload):
    member_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    language = fields.String(required=True, validate=LANG)
    # The raw one-time token goes only to notifications, which mails it; members keeps a hash.
    token = fields.String(load_default=None, allow_none=True)
    already_member = fields.Boolean(load_default=False)


class MemberJoined(Payload):
    member_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    language = fields.String(required=True, validate=LANG)
    organisation = fields.String(load_default="")
    municipality_code = fields.String(load_default=None, allow_none=True)
    newsletter = fields.Boolean(required=True)
    invitations = fields.Boolean(required=True)
    role = fields.String(load_default="member")
    joined_at = fields.String(required=True)


class MemberUpdated(Payload):
    member_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    language = fields.String(required=True, validate=LANG)
    organisation = fields.String(load_default="")
    municipality_code = fields.String(load_default=None, allow_none=True)
    role = fields.String(load_default="member")
    active = fields.Boolean(load_default=True)


class SubscriptionsChanged(Payload):
    member_id = fields.UUID(required=True)
    newsletter = fields.Boolean(required=True)
    invitations = fields.Boolean(required=True)


class SignInRequested(Payload):
    member_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    language = fields.String(required=True, validate=LANG)
    token = fields.String(required=True)
    # How long the link works (the e-mail says so); notifications assumes 15 when absent.
    valid_minutes = fields.Integer(load_default=None, allow_none=True)


class MemberErased(Payload):
    member_id = fields.UUID(required=True)


class GatheringPublished(Payload):
    gathering_id = fields.UUID(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    starts_at = fields.String(required=True)
    ends_at = fields.String(required=True)
    location = fields.String(load_default=None, allow_none=True)
    online_url = fields.String(load_default=None, allow_none=True)
    language = fields.String(required=True, validate=LANG)
    description = fields.String(load_default="")


class RegistrationChanged(Payload):
    gathering_id = fields.UUID(required=True)
    member_id = fields.UUID(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["registered", "waitlisted", "promoted", "cancelled"]),
    )
    title = fields.String(required=True)
    starts_at = fields.String(required=True)


class ExperimentPublished(Payload):
    experiment_id = fields.UUID(required=True)
    title = fields.String(required=True)
    summary = fields.String(load_default="")
    themes = fields.List(fields.String(), load_default=list)
    municipality_codes = fields.List(fields.String(), load_default=list)
    published_at = fields.String(required=True)


class CommentPosted(Payload):
    comment_id = fields.UUID(required=True)
    experiment_id = fields.UUID(required=True)
    experiment_title = fields.String(required=True)
    author_id = fields.UUID(required=True)
    owner_ids = fields.List(fields.UUID(), load_default=list)


class AddressBounced(Payload):
    email = fields.Email(required=True)
    member_id = fields.UUID(load_default=None, allow_none=True)
    reason = fields.String(load_default="")


@dataclass(frozen=True)
class EventContract:
    type: str
    producer: str
    consumers: tuple[str, ...]
    schema: builtins.type[Payload]
    why: str

    @property
    def version(self) -> int:
        return int(self.type.rsplit(".v", 1)[1])

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check a payload and return it in its JSON form (UUIDs as strings)."""
        schema = _SCHEMAS.get(self.schema)
        if schema is None:  # one instance per payload schema: they keep no per-call state
            schema = _SCHEMAS[self.schema] = self.schema()
        result: dict[str, Any] = schema.dump(schema.load(data))
        return result


_SCHEMAS: dict[builtins.type[Payload], Payload] = {}


def _c(
    event_type: str, consumers: tuple[str, ...], schema: type[Payload], why: str
) -> EventContract:
    return EventContract(event_type, event_type.split(".", 1)[0], consumers, schema, why)


N, E, M = "notifications", "experiments", "members"

CONTRACTS: dict[str, EventContract] = {
    c.type: c
    for c in (
        _c("members.member.registered.v1", (N,), MemberRegistered, "double opt-in confirmation"),
        _c(
            "members.member.joined.v1",
            (N, E),
            MemberJoined,
            "welcome; recipient/author projections",
        ),
        _c("members.member.updated.v1", (N, E), MemberUpdated, "name, language, organisation"),
        _c("members.subscriptions.changed.v1", (N,), SubscriptionsChanged, "list preferences"),
        _c("members.sign_in.requested.v1", (N,), SignInRequested, "e-mail a sign-in link"),
        _c("members.member.erased.v1", (N, E), MemberErased, "erase / anonymise personal data"),
        _c("members.gathering.published.v1", (N,), GatheringPublished, "invitations"),
        _c("members.registration.changed.v1", (N,), RegistrationChanged, "registration notices"),
        _c("experiments.experiment.published.v1", (N,), ExperimentPublished, "newsletter material"),
        _c("experiments.comment.posted.v1", (N,), CommentPosted, "tell the owners"),
        _c("notifications.address.bounced.v1", (M,), AddressBounced, "mark undeliverable"),
    )
}

SERVICES = ("members", "experiments", "notifications")


def contract_for(event_type: str) -> EventContract:
    try:
        return CONTRACTS[event_type]
    except KeyError:
        raise ValidationError(f"unknown event type {event_type!r}") from None


def consumed_by(service: str) -> list[str]:
    """The routing keys a service's queue is bound with."""
    return [t for t, c in CONTRACTS.items() if service in c.consumers]


def queue_name(service: str) -> str:
    return f"{service}.events"
