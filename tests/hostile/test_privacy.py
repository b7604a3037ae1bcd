"""Erasure: after DELETE /members/me, within 5 seconds no row of any service's database holds
the member's e-mail or name, in any text or JSON column (outbox, inbox and dead letters too)."""

from __future__ import annotations

import time

import pytest
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.stack import SERVICES

from .system import System
from .world import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "ARRAY", "USER-DEFINED")


def find_everywhere(system: System, needles: list[str]) -> list[str]:
    """'service.table.column' for every column holding any needle (case-insensitive)."""
    hits: list[str] = []
    for service in SERVICES:
        with system.db(service) as conn:
            columns = conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public' AND data_type = ANY(%s)",
                (list(TEXT_TYPES),),
            ).fetchall()
            for table, column, _ in columns:
                for needle in needles:
                    row = conn.execute(
                        f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',
                        (f"%{needle}%",),
                    ).fetchone()
                    if row and row[0]:
                        hits.append(f"{service}.{table}.{column} ({row[0]} rows with {needle!r})")
    return hits


def test_erased_member_leaves_no_trace_within_five_seconds(system: System) -> None:
    world = build_world(system, "privacy")
    email = "poistuva.jasen@example.fi"
    name = "Pirjo Poistuvainen"
    member = system.member(email, name, language="fi")

    comment = system.api(
        "POST",
        f"/experiments/{world.published_experiment}/comments",
        headers=member.auth,
        json={"body": "Tämä kokeilu kiinnostaa meitä Espoossa."},
    )
    assert comment.status_code == 201, comment.text
    registered = system.api(
        "POST", f"/gatherings/{world.published_gathering}/registrations", headers=member.auth
    )
    assert registered.status_code == 201, registered.text
    # Everything the member did has reached every service: their name is in the author
    # projection, they were told of the registration, and the newsletter went to them too.
    sent = system.api(
        "POST", f"/newsletters/{world.newsletter}/send", headers=world.coordinator.auth
    )
    assert sent.status_code == 202, sent.text
    wait_until(
        lambda: len(system.sink.store.messages(email)) >= 4,
        timeout=60,
        message="confirmation, welcome, sign-in, registration and newsletter e-mails",
    )
    before = find_everywhere(system, [email, name])
    assert any(hit.startswith("members.") for hit in before), before
    assert any(hit.startswith("experiments.") for hit in before), before
    assert any(hit.startswith("notifications.") for hit in before), before

    erased = system.api("DELETE", "/members/me", headers=member.auth)
    assert erased.status_code == 202, erased.text
    started = time.monotonic()
    left = find_everywhere(system, [email, name])
    while left and time.monotonic() - started < 5:
        time.sleep(0.2)
        left = find_everywhere(system, [email, name])
    took = time.monotonic() - started
    assert not left, f"after {took:.1f}s the member is still in: {left}"
    print(f"\nerased everywhere in {took:.2f}s; before: {before}")
    # Nothing came back later (a late consumer or relay re-writing what was scrubbed).
    assert system.settled_counts()
    assert find_everywhere(system, [email, name]) == []
