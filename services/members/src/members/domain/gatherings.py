"""Gathering rules: kinds, schedules, when registration closes, who gets a place."""

from __future__ import annotations

from datetime import datetime

from uskalla_reference import gatherings

#: One shared fact (notifications names the kinds in its mail), so defined once.
KINDS = gatherings.KINDS


def schedule_errors(
    starts_at: datetime,
    ends_at: datetime,
    registration_deadline: datetime | None,
    location: str | None,
    online_url: str | None,
) -> dict[str, list[str]]:
    """What is wrong with a gathering's time and place taken together (empty if nothing)."""
    errors: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        errors["ends_at"] = ["Must be after starts_at."]
    if registration_deadline is not None and registration_deadline > ends_at:
        errors["registration_deadline"] = ["Must not be after the gathering ends."]
    if not (location or "").strip() and not (online_url or "").strip():
        errors["location"] = ["Give a location, an online_url, or both."]
    return errors


def registration_closes_at(starts_at: datetime, registration_deadline: datetime | None) -> datetime:
    """Without an explicit deadline, registration closes when the gathering starts."""
    return registration_deadline or starts_at


def place_for(capacity: int | None, registered: int) -> str:
    """`registered` while there is room, else `waitlisted`."""
    return "registered" if capacity is None or registered < capacity else "waitlisted"


def free_places(capacity: int | None, registered: int, waitlisted: int) -> int:
    """How many of the waitlisted can be promoted now."""
    if capacity is None:
        return waitlisted
    return max(0, min(waitlisted, capacity - registered))
