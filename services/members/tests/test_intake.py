"""Join and sign-in requests do the same database work whatever the address: one intake row.

What the address calls for (a member, a link, an "already a member" e-mail, nothing) is done
by the relay afterwards, so the time an answer takes tells nothing about the address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask.testing import FlaskClient
from members.adapters.models import Intake, Member
from members.service_layer import services_of
from members.service_layer.housekeeping import intake_job
from sqlalchemy import event, func, select
from uskalla_kit import Runtime

Events = Callable[..., list[dict[str, Any]]]
CLOSED = "closed@example.fi"
JOIN = {"name": "Testi Henkilö", "language": "fi", "consent": True}


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements (without their parameters) this thread sends meanwhile (not the
    outbox's background marks of earlier events)."""
    seen: list[str] = []
    thread = threading.get_ident()

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == thread:
            seen.append(" ".join(statement.split()))

    event.listen(runtime.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", record)


def work_of(runtime: Runtime, client: FlaskClient, path: str, body: dict[str, Any]) -> list[str]:
    with statements(runtime) as seen:
        answer = client.post(path, json=body)
    assert answer.status_code == 202
    return seen


def test_join_does_the_same_statements_for_every_kind_of_address(
    runtime: Runtime, add_member: Callable[..., Member], events: Events
) -> None:
    client = runtime.create_app().test_client()  # the relay does not run in between
    add_member(email="active@example.fi")
    add_member(email="closed@example.fi", status="deactivated")
    client.post("/api/v1/members", json={**JOIN, "email": "pending@example.fi"})
    intake_job(runtime.db, services_of(runtime))()
    work = {
        email: work_of(runtime, client, "/api/v1/members", {**JOIN, "email": email})
        for email in ("new@example.fi", "pending@example.fi", "active@example.fi", CLOSED)
    }
    assert len({tuple(w) for w in work.values()}) == 1, work
    [one] = {tuple(w) for w in work.values()}
    assert [s.split(" (")[0] for s in one] == ["INSERT INTO intake"]
    assert events("members.member.registered.v1") == events()[:1]  # only pending@'s first

    # The relay then does what each address calls for.
    assert intake_job(runtime.db, services_of(runtime))() == 4
    registered = {e["data"]["email"]: e["data"] for e in events("members.member.registered.v1")}
    assert set(registered) == {"new@example.fi", "pending@example.fi", "active@example.fi"}
    assert registered["active@example.fi"]["already_member"] is True
    assert registered["active@example.fi"].get("token") is None
    assert registered["new@example.fi"]["token"] and registered["pending@example.fi"]["token"]
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Intake)) == 0
        statuses = {r.email: r.status for r in session.execute(select(Member.email, Member.status))}
    assert statuses == {
        "active@example.fi": "active",
        "closed@example.fi": "deactivated",
        "pending@example.fi": "pending",
        "new@example.fi": "pending",
    }


def test_sign_in_does_the_same_statements_for_every_kind_of_address(
    runtime: Runtime, add_member: Callable[..., Member], events: Events
) -> None:
    client = runtime.create_app().test_client()
    add_member(email="active@example.fi")
    add_member(email="closed@example.fi", status="deactivated")
    add_member(email="pending@example.fi", status="pending", joined_at=None)
    work = {
        email: work_of(runtime, client, "/api/v1/auth/sign-in", {"email": email})
        for email in ("active@example.fi", "nobody@example.fi", "pending@example.fi", CLOSED)
    }
    assert len({tuple(w) for w in work.values()}) == 1, work
    assert events() == []

    # Only the active member gets a link, once the relay has acted.
    assert intake_job(runtime.db, services_of(runtime))() == 4
    assert [e["data"]["email"] for e in events("members.sign_in.requested.v1")] == [
        "active@example.fi"
    ]


def test_a_failing_request_holds_up_no_other(runtime: Runtime, events: Events, caplog: Any) -> None:
    intake = services_of(runtime).intake
    with runtime.db.transaction() as session:
        intake.accept(session, "join", {"email": "broken@example.fi"})  # no name: fails
        intake.accept(session, "sign_in", {"email": "nobody@example.fi"})
        intake.accept(session, "join", {**JOIN, "email": "fine@example.fi"})
    assert intake_job(runtime.db, services_of(runtime))() == 2
    assert [e["data"]["email"] for e in events()] == ["fine@example.fi"]
    with runtime.db.transaction() as session:
        [left] = session.scalars(select(Intake)).all()
    assert left.data["email"] == "broken@example.fi"  # kept for the next beat, not lost
    [failed] = [r for r in caplog.records if r.getMessage() == "an intake request failed"]
    assert "broken@example.fi" not in str(vars(failed))


def test_a_failing_request_backs_off_and_is_held_after_its_last_attempt(
    runtime: Runtime, events: Events, caplog: Any
) -> None:
    queue = services_of(runtime).intake
    with runtime.db.transaction() as session:
        queue.accept(session, "join", {"email": "broken@example.fi"})  # no name: fails
    for attempt in range(1, queue.max_attempts + 1):
        assert intake_job(runtime.db, services_of(runtime))() == 0
        with runtime.db.transaction() as session:
            row = session.scalars(select(Intake)).one()
            assert row.attempts == attempt
            assert row.retry_at > session.scalar(select(func.now()))  # not tried every beat
            assert (row.held_at is not None) == (attempt == queue.max_attempts)
            row.retry_at = session.scalar(select(func.now()))  # as if the wait had passed
    # Held: no further attempt, but kept (never lost) and counted for the operator.
    assert intake_job(runtime.db, services_of(runtime))() == 0
    with runtime.db.transaction() as session:
        assert session.scalars(select(Intake)).one().attempts == queue.max_attempts
        assert queue.counts(session) == {"waiting": 0, "held": 1}
        session.execute(
            Intake.__table__.update().values(data={**JOIN, "email": "broken@example.fi"})
        )
        assert queue.release(session) == 1
    assert intake_job(runtime.db, services_of(runtime))() == 1
    assert [e["data"]["email"] for e in events()] == ["broken@example.fi"]
    assert any(
        r.getMessage() == "an intake request was held after its last attempt"
        for r in caplog.records
    )


def test_failed_requests_at_the_head_do_not_block_newer_ones(
    runtime: Runtime, events: Events
) -> None:
    queue = services_of(runtime).intake
    with runtime.db.transaction() as session:
        for n in range(3):
            queue.accept(session, "join", {"email": f"broken{n}@example.fi"})
        queue.accept(session, "join", {**JOIN, "email": "fine@example.fi"})
    with runtime.db.transaction() as session:
        assert queue.process(session, limit=3) == 0  # the three broken ones, first in line
    with runtime.db.transaction() as session:
        assert queue.process(session, limit=3) == 1  # they wait now; the newer one goes
    assert [e["data"]["email"] for e in events()] == ["fine@example.fi"]


def test_the_relay_acts_on_a_join_at_once_not_at_its_next_beat(
    runtime: Runtime, events: Events
) -> None:
    """A trigger notifies the relay at commit: with a beat of a minute, the join is still acted
    on within moments (the beat stays the fallback)."""
    relay = runtime.events.relay(
        interval=60.0, jobs=runtime.relay_jobs, wake_channels=runtime.relay_wake_channels
    )
    worker = threading.Thread(target=relay.run, daemon=True)
    worker.start()
    try:
        time.sleep(0.5)  # the first beat (and the listener's first wake) are done
        client = runtime.create_app().test_client()
        answer = client.post("/api/v1/members", json={**JOIN, "email": "quick@example.fi"})
        assert answer.status_code == 202
        deadline = time.monotonic() + 10
        while not events() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [e["data"]["email"] for e in events()] == ["quick@example.fi"]
        assert time.monotonic() < deadline
    finally:
        relay.stop()
        worker.join(10)
