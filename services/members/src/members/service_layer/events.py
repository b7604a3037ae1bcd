"""The events members publishes, built from its models: the typed payloads of the contracts."""

from __future__ import annotations

import uuid
from typing import Any

from uskalla_events.contracts import (
    GatheringCancelled,
    GatheringChanged,
    GatheringPublished,
    InterestsChanged,
    MemberJoined,
    MemberRegistered,
    MemberUpdated,
    RegistrationChanged,
    SubscriptionsChanged,
)
from uskalla_events.vocabulary import (
    DigestFrequency,
    GatheringKind,
    Language,
    RegistrationStatus,
    Role,
)

from members.adapters.models import Gathering, Member
from members.domain.rules import MemberStatus


def registered(
    m: Member, *, token: str | None = None, valid_hours: int | None = None
) -> MemberRegistered:
    """A join to confirm (with the sealed token and its lifetime), or an "already a member"
    note (neither)."""
    return MemberRegistered(
        member_id=m.id,
        email=m.email,
        name=m.name,
        language=Language(m.language),
        token=token,
        already_member=token is None,
        valid_hours=valid_hours,
    )


def joined(m: Member) -> MemberJoined:
    if m.joined_at is None:
        raise ValueError("a member joins once they have confirmed")
    return MemberJoined(
        member_id=m.id,
        email=m.email,
        name=m.name,
        language=Language(m.language),
        organisation=m.organisation,
        municipality_code=m.municipality_code,
        newsletter=m.newsletter,
        invitations=m.invitations,
        role=Role(m.role),
        joined_at=m.joined_at,
        themes=list(m.themes or []),
        municipality_codes=list(m.interest_municipality_codes or []),
        digest=DigestFrequency(m.digest),
        follows=m.follows,
        comments=m.comments,
    )


def updated(m: Member) -> MemberUpdated:
    return MemberUpdated(
        member_id=m.id,
        email=m.email,
        name=m.name,
        language=Language(m.language),
        organisation=m.organisation,
        municipality_code=m.municipality_code,
        role=Role(m.role),
        active=m.status == MemberStatus.ACTIVE,
        themes=list(m.themes or []),
    )


def subscriptions(m: Member) -> SubscriptionsChanged:
    return SubscriptionsChanged(
        member_id=m.id,
        newsletter=m.newsletter,
        invitations=m.invitations,
        follows=m.follows,
        comments=m.comments,
    )


def interests_changed(m: Member) -> InterestsChanged:
    return InterestsChanged(
        member_id=m.id,
        themes=list(m.themes or []),
        municipality_codes=list(m.interest_municipality_codes or []),
        digest=DigestFrequency(m.digest),
    )


def gathering_details(g: Gathering) -> dict[str, Any]:
    """What a published and a changed gathering's events both say of it."""
    return {
        "gathering_id": g.id,
        "title": g.title,
        "kind": GatheringKind(g.kind),
        "starts_at": g.starts_at,
        "ends_at": g.ends_at,
        "location": g.location,
        "online_url": g.online_url,
        "language": Language(g.language),
        "description": g.description,
        "sequence": g.sequence,
    }


def gathering_published(g: Gathering) -> GatheringPublished:
    return GatheringPublished(**gathering_details(g))


def gathering_changed(g: Gathering, changed: list[str]) -> GatheringChanged:
    return GatheringChanged(**gathering_details(g), changed=changed)


def gathering_cancelled(g: Gathering) -> GatheringCancelled:
    return GatheringCancelled(gathering_id=g.id, sequence=g.sequence)


def registration_changed(
    g: Gathering, member_id: uuid.UUID, status: RegistrationStatus
) -> RegistrationChanged:
    return RegistrationChanged(
        gathering_id=g.id, member_id=member_id, status=status, title=g.title, starts_at=g.starts_at
    )
