"""A member's interests: the themes and municipalities they follow, and the digest's frequency."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from uskalla_events.outbox import Outbox
from uskalla_events.vocabulary import DigestFrequency

from members.adapters.models import Member
from members.service_layer import events
from members.service_layer.clock import now

#: The API's names of the interests and the member's columns that keep them.
COLUMNS = {
    "themes": "themes",
    "municipality_codes": "interest_municipality_codes",
    "digest": "digest",
}


def interests_view(m: Member) -> dict[str, Any]:
    """A member's interests as the API shows them (GET/PUT /members/me/interests, export)."""
    return {
        "themes": list(m.themes or []),
        "municipality_codes": list(m.interest_municipality_codes or []),
        "digest": m.digest,
    }


def canonical(name: str, value: Any) -> Any:
    """Theme and municipality lists are sets: kept sorted, so a reordering changes nothing."""
    return sorted(value) if name in ("themes", "municipality_codes") else str(value)


class Interests:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def change(self, session: Session, member: Member, values: dict[str, Any]) -> bool:
        """Set the interests given (a PUT gives all three); `InterestsChanged` when any
        really changed. Whether one did."""
        changed = False
        for name, value in values.items():
            column, wanted = COLUMNS[name], canonical(name, value)
            current = getattr(member, column)
            if (current if name == "digest" else list(current or [])) != wanted:
                setattr(member, column, wanted)
                changed = True
        if changed:
            member.updated_at = now()
            session.flush()
            self.outbox.add(session, events.interests_changed(member))
        return changed

    def digest_off(self, session: Session, member: Member) -> bool:
        """The digest stops (unsubscribed from its e-mail, or a complaint)."""
        return self.change(session, member, {"digest": DigestFrequency.OFF})
