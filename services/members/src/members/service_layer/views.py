"""Plain dictionaries of members and gatherings, as the API shows them (events: `events`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from uskalla_reference.plaintext import render_plain_text

from members.adapters.models import Gathering, Member
from members.domain.rules import language_prefix
from members.service_layer.clock import now


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def member_view(m: Member) -> dict[str, Any]:
    """A member's own profile (GET /members/me)."""
    return {
        "id": str(m.id),
        "email": m.email,
        "name": m.name,
        "organisation": m.organisation,
        "municipality_code": m.municipality_code,
        "title": m.title,
        "language": m.language,
        "newsletter": m.newsletter,
        "invitations": m.invitations,
        "follows": m.follows,
        "comments": m.comments,
        "role": m.role,
        "joined_at": iso(m.joined_at),
        "undeliverable": m.undeliverable,
    }


def member_admin_view(m: Member) -> dict[str, Any]:
    """What coordinators see of a member."""
    return {
        **member_view(m),
        "status": m.status,
        "created_at": iso(m.created_at),
    }


def gathering_url(base_url: str, g: Gathering) -> str:
    return f"{base_url}{language_prefix(g.language)}/gatherings/{g.id}"


def gathering_view(
    g: Gathering,
    base_url: str,
    counts: tuple[int, int] = (0, 0),
    my_registration: str | None = None,
    attended: int | None = None,
) -> dict[str, Any]:
    registered, waitlisted = counts
    return {
        "id": str(g.id),
        "title": g.title,
        "kind": g.kind,
        "description": g.description,
        "starts_at": iso(g.starts_at),
        "ends_at": iso(g.ends_at),
        "location": g.location,
        "online_url": g.online_url,
        "capacity": g.capacity,
        "registration_deadline": iso(g.registration_deadline),
        "language": g.language,
        "status": g.status,
        "registered": registered,
        "waitlisted": waitlisted,
        "my_registration": my_registration,
        "url": gathering_url(base_url, g),
        "created_at": iso(g.created_at),
        "updated_at": iso(g.updated_at),
        "published_at": iso(g.published_at),
        "ended": g.ends_at <= now(),
        # After the event: the summary as written and rendered as comments are (p, br, a).
        "summary": g.summary,
        "summary_html": render_plain_text(g.summary),
        "materials": [{"title": m["title"], "url": m["url"]} for m in g.materials],
        "experiment_ids": list(g.experiment_ids),
        "attended": attended,
    }
