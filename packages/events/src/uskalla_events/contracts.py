"""The event catalogue: every event's payload, producer and consumers, in one place.

A payload is a frozen dataclass (`payloads.Payload`): ids are `uuid.UUID`, times aware
`datetime`, languages, roles, kinds and statuses the enums of `vocabulary`. Its JSON form on
the wire (and in the outbox, inbox and dead-letter rows) comes from the schema derived from
it, so producers and consumers share one definition:

- a producer builds the object and hands it to the outbox (`outbox.add(session, payload)`),
  which writes it in its JSON form (strings at the edge) in the envelope's `data`;
- a consumer registers a handler per payload class (`@handlers.on(MemberJoined)`) and is
  called as `handler(session, event, payload)`: the envelope (id, time, correlation id) and
  its payload loaded into the object. Handlers pass the objects on to their use cases.

Routing key = event type. Within a version, payloads only gain fields (consumers ignore
unknown ones, an added field has a default); a breaking change is a new version with a new type.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from uskalla_events.payloads import Email, Payload, schema_of
from uskalla_events.vocabulary import (
    DigestFrequency,
    GatheringKind,
    Language,
    RegistrationStatus,
    Role,
)

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


@dataclass(frozen=True, kw_only=True)
class MemberRegistered(Payload):
    member_id: uuid.UUID
    email: Email
    name: str
    language: Language
    # The raw one-time token goes only to notifications, which mails it; members keeps a hash.
    token: str | None = None
    already_member: bool = False
    #: How long the confirmation link works (the e-mail says so).
    valid_hours: int | None = None


@dataclass(frozen=True, kw_only=True)
class MemberJoined(Payload):
    member_id: uuid.UUID
    email: Email
    name: str
    language: Language
    organisation: str = ""
    municipality_code: str | None = None
    newsletter: bool
    invitations: bool
    role: Role = Role.MEMBER
    joined_at: datetime
    #: The member's interests (issue "Keeping members close"): themes (slugs) and municipality
    #: codes they want to hear about, and how often the digest comes. Newsletter audiences by
    #: theme select on `themes`.
    themes: list[str] = field(default_factory=list)
    municipality_codes: list[str] = field(default_factory=list)
    digest: DigestFrequency = DigestFrequency.OFF
    #: Follow e-mails (list `follows`) and owners' comment e-mails (list `comments`) are on
    #: unless the member turned them off.
    follows: bool = True
    comments: bool = True


@dataclass(frozen=True, kw_only=True)
class MemberUpdated(Payload):
    member_id: uuid.UUID
    email: Email
    name: str
    language: Language
    organisation: str = ""
    municipality_code: str | None = None
    role: Role = Role.MEMBER
    active: bool = True
    #: The member's themes now; None (an older producer) leaves the ones known as they are.
    themes: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class SubscriptionsChanged(Payload):
    member_id: uuid.UUID
    newsletter: bool
    invitations: bool
    #: None (an older producer) leaves what is known as it is.
    follows: bool | None = None
    comments: bool | None = None


@dataclass(frozen=True, kw_only=True)
class InterestsChanged(Payload):
    """A member's interests now (set on their page, or the digest turned off by unsubscribing)."""

    member_id: uuid.UUID
    themes: list[str] = field(default_factory=list)
    municipality_codes: list[str] = field(default_factory=list)
    digest: DigestFrequency


@dataclass(frozen=True, kw_only=True)
class SignInRequested(Payload):
    member_id: uuid.UUID
    email: Email
    name: str
    language: Language
    token: str
    #: How long the link works (the e-mail says so).
    valid_minutes: int | None = None


@dataclass(frozen=True, kw_only=True)
class MemberErased(Payload):
    member_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class GatheringPublished(Payload):
    gathering_id: uuid.UUID
    title: str
    kind: GatheringKind
    starts_at: datetime
    ends_at: datetime
    location: str | None = None
    online_url: str | None = None
    language: Language
    description: str = ""
    #: The iCalendar SEQUENCE members keeps (0 when first published, +1 per change).
    sequence: int = 0


@dataclass(frozen=True, kw_only=True)
class GatheringChanged(GatheringPublished):
    """A published gathering as it is after an edit (the fields of its published event, with
    the new `sequence`); `changed` names the fields that changed (registrants are told when
    its time, place or online link did)."""

    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class GatheringCancelled(Payload):
    """A published gathering will not take place: its registered and waitlisted are told."""

    gathering_id: uuid.UUID
    sequence: int


@dataclass(frozen=True, kw_only=True)
class RegistrationChanged(Payload):
    gathering_id: uuid.UUID
    member_id: uuid.UUID
    status: RegistrationStatus
    title: str
    starts_at: datetime


@dataclass(frozen=True, kw_only=True)
class ExperimentPublished(Payload):
    experiment_id: uuid.UUID
    title: str
    summary: str = ""
    themes: list[str] = field(default_factory=list)
    municipality_codes: list[str] = field(default_factory=list)
    published_at: datetime


@dataclass(frozen=True, kw_only=True)
class CommentPosted(Payload):
    comment_id: uuid.UUID
    experiment_id: uuid.UUID
    experiment_title: str
    author_id: uuid.UUID
    owner_ids: list[uuid.UUID] = field(default_factory=list)
    #: Everyone following the experiment when the comment was posted (owners follow their own).
    follower_ids: list[uuid.UUID] = field(default_factory=list)
    posted_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ExperimentStageChanged(Payload):
    """A published experiment moved to another stage; its followers are told (not the actor)."""

    experiment_id: uuid.UUID
    title: str
    stage: str
    previous_stage: str
    actor_id: uuid.UUID | None = None
    follower_ids: list[uuid.UUID] = field(default_factory=list)
    changed_at: datetime


@dataclass(frozen=True, kw_only=True)
class ExperimentEvaluated(Payload):
    """A published experiment got (`first`) or changed its evaluation."""

    experiment_id: uuid.UUID
    title: str
    outcome: str
    first: bool
    actor_id: uuid.UUID | None = None
    follower_ids: list[uuid.UUID] = field(default_factory=list)
    evaluated_at: datetime


@dataclass(frozen=True, kw_only=True)
class AddressBounced(Payload):
    email: Email
    member_id: uuid.UUID | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class AddressComplained(Payload):
    """The reader reported our mail as spam (an RFC 5965 feedback report)."""

    email: Email
    member_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class AddressReinstated(Payload):
    """A coordinator lifted the address's suppression: it is deliverable again."""

    email: Email
    member_id: uuid.UUID | None = None


@dataclass(frozen=True)
class EventContract:
    type: str
    producer: str
    consumers: tuple[str, ...]
    payload: builtins.type[Payload]
    why: str

    @property
    def version(self) -> int:
        return int(self.type.rsplit(".v", 1)[1])

    def load(self, data: Mapping[str, Any]) -> Payload:
        """The payload object from its JSON form; ValidationError if it breaks the contract."""
        payload: Payload = schema_of(self.payload).load(data)
        return payload

    def dump(self, payload: Payload) -> dict[str, Any]:
        """The payload's JSON form, checked against the contract as a consumer will load it."""
        if type(payload) is not self.payload:
            raise TypeError(f"{self.type} carries {self.payload.__name__}, not {payload!r}")
        schema = schema_of(self.payload)
        data: dict[str, Any] = schema.dump(payload)
        schema.load(data)  # what a consumer would refuse is refused here, before it is sent
        return data


def _c(
    event_type: str, consumers: tuple[str, ...], payload: type[Payload], why: str
) -> EventContract:
    return EventContract(event_type, event_type.split(".", 1)[0], consumers, payload, why)


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
        _c("members.interests.changed.v1", (N,), InterestsChanged, "digests, theme audiences"),
        _c("members.sign_in.requested.v1", (N,), SignInRequested, "e-mail a sign-in link"),
        _c("members.member.erased.v1", (N, E), MemberErased, "erase / anonymise personal data"),
        _c("members.gathering.published.v1", (N,), GatheringPublished, "invitations"),
        _c("members.gathering.changed.v1", (N,), GatheringChanged, "update e-mails, SEQUENCE"),
        _c("members.gathering.cancelled.v1", (N,), GatheringCancelled, "cancellation e-mails"),
        _c("members.registration.changed.v1", (N,), RegistrationChanged, "registration notices"),
        _c("experiments.experiment.published.v1", (N,), ExperimentPublished, "newsletter material"),
        _c("experiments.comment.posted.v1", (N,), CommentPosted, "tell owners and followers"),
        _c(
            "experiments.experiment.stage_changed.v1",
            (N,),
            ExperimentStageChanged,
            "tell the followers; digests",
        ),
        _c(
            "experiments.experiment.evaluated.v1",
            (N,),
            ExperimentEvaluated,
            "tell the followers; digests",
        ),
        _c("notifications.address.bounced.v1", (M,), AddressBounced, "mark undeliverable"),
        _c("notifications.address.complained.v1", (M,), AddressComplained, "lists off"),
        _c("notifications.address.reinstated.v1", (M,), AddressReinstated, "deliverable again"),
    )
}

#: Each payload class belongs to one event type.
_BY_PAYLOAD: dict[type[Payload], EventContract] = {c.payload: c for c in CONTRACTS.values()}
if len(_BY_PAYLOAD) != len(CONTRACTS):
    raise TypeError("a payload class serves one event type")

SERVICES = ("members", "experiments", "notifications")


def contract_for(event_type: str) -> EventContract:
    try:
        return CONTRACTS[event_type]
    except KeyError:
        raise ValidationError(f"unknown event type {event_type!r}") from None


def contract_of(payload: type[Payload]) -> EventContract:
    """The contract of the event type a payload class belongs to."""
    try:
        return _BY_PAYLOAD[payload]
    except KeyError:
        raise TypeError(f"{payload.__name__} is not an event payload of the catalogue") from None


def load_payload(event_type: str, data: Mapping[str, Any]) -> Payload:
    """An event's payload object from its JSON form (what a consumer gets)."""
    return contract_for(event_type).load(data)


def consumed_by(service: str) -> list[str]:
    """The routing keys a service's queue is bound with."""
    return [t for t, c in CONTRACTS.items() if service in c.consumers]


def queue_name(service: str) -> str:
    return f"{service}.events"
