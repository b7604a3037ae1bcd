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


#: After the event: how long a summary may be, how many materials and experiments it names.
SUMMARY_MAX = 2000
MATERIALS_MAX = 20
EXPERIMENTS_MAX = 20


def after_event_refusal(status: str, starts_at: datetime, at: datetime) -> str | None:
    """Why attendance and the record cannot be set now (None: they can). Only a published
    gathering that has started has people who came and things learned."""
    if status == "cancelled":
        return "The gathering was cancelled; it has no attendance or record."
    if status != "published":
        return "The gathering is not published."
    if at < starts_at:
        return "The gathering has not started yet; attendance and its record come after the start."
    return None


def not_registered(attended: list[str], registered: set[str]) -> list[str]:
    """The ids marked attended that are not among the gathering's registered members."""
    return [member_id for member_id in attended if member_id not in registered]
