"""The caller as the domain rules see it, from the verified bearer token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session
from uskalla_kit import Problem, current_identity, current_runtime, no_such_member
from uskalla_kit.auth import Standing

from experiments.domain.access import Viewer
from experiments.service_layer import Services, services_of


def services() -> Services:
    """The use cases, built once at start (`bootstrap`)."""
    return services_of(current_runtime())


def _member_id(subject: str) -> uuid.UUID:
    try:
        return uuid.UUID(subject)
    except ValueError:
        raise Problem(401, "Unauthorized", "The token's subject is not a member id.") from None


def standing(member_id: str) -> Standing | None:
    """The token holder's current standing, from the author projection (one primary-key
    read): the look-up `check_standing` gives every request's token, before anything else is
    looked at. A subject that is no member id is answered 401 here."""
    key = _member_id(member_id)
    with current_runtime().db.transaction() as session:
        return services().authors.standing(session, key)


def viewer() -> Viewer:
    """The caller: anonymous when no token is sent. Who may call at all (a member, a
    coordinator) is checked before the view runs, by its `@documented(auth=...)`."""
    identity = current_identity()
    if identity is None:
        return Viewer()
    return Viewer(str(_member_id(identity.member_id)), identity.is_coordinator)


@contextmanager
def acting(caller: Viewer) -> Iterator[Session]:
    """The transaction of what a signed-in member does.

    401 for an erased member whose token has not yet expired. The check holds until the
    transaction ends: an erasure of the caller in progress is waited out (then 401), and none
    starts meanwhile, so nothing they write can land after their erasure."""
    with current_runtime().db.transaction() as session:
        if caller.member_id and not services().authors.hold(session, uuid.UUID(caller.member_id)):
            raise no_such_member()
        yield session
