"""The event backbone against real Redis and PostgreSQL: nothing lost, nothing handled twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from celery.contrib.testing.worker import start_worker
from click.testing import CliRunner
from sqlalchemy import select
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_events import Envelope, new_envelope
from uskalla_events.celery_app import UNROUTABLE_QUEUE
from uskalla_events.consumer import send_event

from .conftest import TABLES, Pair, joined


@contextmanager
def consumer_running(pair: Pair) -> Iterator[None]:
    """The consumer's real Celery worker, in this process, for the duration of the block."""
    pair.consumer.declare()
    with start_worker(
        pair.consumer.celery,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        shutdown_timeout=10,
        loglevel="WARNING",
    ):
        yield


def queue_length(pair: Pair, name: str) -> int:
    client = redis.Redis.from_url(pair.publisher.celery.conf.broker_url)
    try:
        return int(client.llen(name))
    finally:
        client.close()


def test_event_published_before_consumer_ever_ran_is_kept_and_handled(pair: Pair) -> None:
    with pair.publisher.db.transaction() as session:
        envelope = pair.publisher.outbox.add(session, joined("Aino"))
    # Published right after commit, into a queue the publisher declared for the consumer.
    assert pair.publisher.outbox.pending_count() == 0
    assert queue_length(pair, "experiments.events") == 1
    assert queue_length(pair, "notifications.events") == 1
    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 1, message="the consumer's effect")
    assert pair.effects() == [(envelope.id, "Aino")]


def test_redelivered_event_is_handled_once(pair: Pair) -> None:
    envelope = new_envelope(joined("Eino"), correlation_id="req-1")
    pair.publisher.declare()
    for _ in range(3):
        send_event(pair.publisher.celery, envelope.to_dict())
    with consumer_running(pair):
        wait_until(lambda: queue_length(pair, "experiments.events") == 0, message="queue drained")
        wait_until(lambda: pair.effect_count() == 1, message="the effect")
    # Three deliveries consumed; the inbox let the handler run for the first one only.
    assert len(pair.behaviour.calls) == 1
    assert pair.effect_count() == 1
    assert pair.consumer.consumer.handle(envelope) is False  # and once more, directly


def test_relay_killed_between_commit_and_publish_leaves_event_for_later(pair: Pair) -> None:
    url = pair.publisher.db.url
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from conftest import make_system, joined
        from uskalla_events import EventHandlers
        system = make_system("members", {url!r}, {pair.publisher.celery.conf.broker_url!r},
                             EventHandlers("members"))
        system.outbox.publish = lambda envelope: os.kill(os.getpid(), signal.SIGKILL)
        with system.db.transaction() as session:
            system.outbox.add(session, joined("Kalle"))
    """)
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert result.returncode == -signal.SIGKILL
    assert pair.publisher.outbox.pending_count() == 1  # committed, never published
    assert queue_length(pair, "experiments.events") == 0
    relay = pair.publisher.relay()
    relay.grace = 0
    assert relay.run_once() == 1
    assert pair.publisher.outbox.pending_count() == 0
    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 1, message="the event handled")
    assert pair.effects()[0][1] == "Kalle"


def test_failing_handler_retries_then_dead_letters_and_command_retries_it(pair: Pair) -> None:
    from uskalla_kit.cli import service_cli
    from uskalla_kit.runtime import Runtime

    pair.behaviour.failures_left = 99
    with pair.publisher.db.transaction() as session:
        envelope = pair.publisher.outbox.add(session, joined("Liisa"))
    with consumer_running(pair):
        wait_until(pair.consumer.consumer.list_dead_letters, message="a dead letter")
    # First try plus max_retries=2 retries, each sent back to this consumer's queue only.
    assert len(pair.behaviour.calls) == 3
    assert pair.effect_count() == 0
    assert queue_length(pair, "notifications.events") == 1  # the sibling got its one copy

    runtime = Runtime(
        settings=None,
        db=pair.consumer.db,
        events=pair.consumer,  # type: ignore[arg-type]
        migrations=None,
        build_app=None,
    )  # type: ignore[arg-type]
    runtime.settings = type("S", (), {"service": "experiments", "log_level": "WARNING"})()  # type: ignore[assignment]
    cli = service_cli("experiments", lambda: runtime)
    listed = CliRunner().invoke(cli, ["dead-letters", "list"])
    assert listed.exit_code == 0, listed.output
    assert envelope.id in listed.output and "TemporaryFailure" in listed.output

    pair.behaviour.failures_left = 0  # the peer is back
    retried = CliRunner().invoke(cli, ["dead-letters", "retry", "--all"])
    assert "sent again" in retried.output, retried.output
    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 1, message="handled after the retry")
    assert pair.consumer.consumer.list_dead_letters() == []
    assert CliRunner().invoke(cli, ["dead-letters", "list"]).output == ""


def test_permanent_error_goes_straight_to_dead_letters(pair: Pair) -> None:
    pair.behaviour.permanent = True
    with pair.publisher.db.transaction() as session:
        pair.publisher.outbox.add(session, joined("Ville"))
    with consumer_running(pair):
        wait_until(pair.consumer.consumer.list_dead_letters, message="a dead letter")
    assert len(pair.behaviour.calls) == 1
    [dead] = pair.consumer.consumer.list_dead_letters()
    assert dead["attempts"] == 1 and "ValueError" in dead["error"]


def test_unroutable_message_is_kept_in_the_unroutable_queue(pair: Pair) -> None:
    pair.publisher.declare()
    envelope = Envelope(type="members.nobody.listens.v1", version=1, producer="members", data={})
    send_event(pair.publisher.celery, envelope.to_dict())
    assert queue_length(pair, UNROUTABLE_QUEUE) == 1


def test_outbox_rows_are_kept_for_replay_and_purged_after_retention(pair: Pair) -> None:
    from datetime import UTC, datetime, timedelta

    with pair.publisher.db.transaction() as session:
        pair.publisher.outbox.add(session, joined("Olli"))
    assert pair.publisher.outbox.purge(timedelta(days=7)) == 0  # kept
    assert pair.publisher.outbox.replay(since=datetime.now(UTC) - timedelta(hours=1)) == 1
    assert pair.publisher.outbox.pending_count() == 1
    assert pair.publisher.outbox.publish_pending() == 1
    assert queue_length(pair, "experiments.events") == 2  # once at commit, once replayed
    with consumer_running(pair):
        wait_until(lambda: queue_length(pair, "experiments.events") == 0, message="drained")
    assert pair.effect_count() == 1
    assert pair.publisher.outbox.purge(timedelta(seconds=-1)) == 1
    with pair.publisher.db.transaction() as session:
        assert session.execute(select(TABLES.outbox)).first() is None


def test_failing_after_commit_step_does_not_undo_or_dead_letter_a_handled_event(pair: Pair) -> None:
    """Work after commit (e.g. enqueueing a task while Redis restarts) is best effort."""
    import redis.exceptions
    from sqlalchemy.orm import Session
    from uskalla_events import EventHandlers, after_commit
    from uskalla_events.consumer import Consumer
    from uskalla_events.contracts import MemberJoined

    from .conftest import effects

    def broker_away() -> None:
        raise redis.exceptions.ConnectionError("Error 111 connecting to the broker")

    handlers = EventHandlers("experiments")

    @handlers.on(MemberJoined)
    def record(session: Session, event: Envelope, payload: MemberJoined) -> None:
        session.execute(effects.insert().values(event_id=event.id, name=payload.name))
        after_commit(session, broker_away)

    consumer = Consumer(pair.consumer.db, TABLES, handlers)
    envelope = new_envelope(joined("Sanna"))
    assert consumer.handle(envelope) is True
    assert pair.effect_count() == 1 and consumer.list_dead_letters() == []
    assert consumer.handle(envelope) is False


def test_consumers_confirm_receipts_and_the_relay_marks_events_confirmed(pair: Pair) -> None:
    pair.publisher.redeliver_after = 0
    with pair.publisher.db.transaction() as session:
        envelope = pair.publisher.outbox.add(session, joined("Tiina"))
    with consumer_running(pair):
        wait_until(
            lambda: (
                "experiments" in pair.publisher.receipts.confirmed_by([envelope.id])[envelope.id]
            ),
            message="experiments' receipt",
        )
    redelivery = pair.publisher.redelivery()
    assert redelivery.sweep() == (0, 0)  # notifications has not confirmed, but it is behind
    pair.publisher.receipts.confirm("notifications", envelope.id)
    assert redelivery.sweep() == (1, 0)
    with pair.publisher.db.transaction() as session:
        row = session.execute(select(TABLES.outbox)).one()
    assert row.confirmed_at is not None and row.redeliveries == 0
    assert pair.effect_count() == 1


def test_a_message_lost_between_broker_and_consumer_is_redelivered(pair: Pair) -> None:
    """kombu's Redis transport pops a message before recording it as unacked: a consumer killed
    in between loses it. The relay's receipts sweep sends it again to that consumer only."""
    pair.publisher.redeliver_after = 0
    with pair.publisher.db.transaction() as session:
        envelope = pair.publisher.outbox.add(session, joined("Paavo"))
    client = redis.Redis.from_url(pair.publisher.celery.conf.broker_url)
    assert client.rpop("experiments.events") is not None  # the message vanishes in flight
    pair.publisher.receipts.confirm("notifications", envelope.id)  # the other consumer is fine
    pair.publisher.outbox.marks.flush()  # "published" is written in batches, a moment later
    assert pair.publisher.redelivery().sweep() == (0, 1)
    assert queue_length(pair, "experiments.events") == 1
    assert queue_length(pair, "notifications.events") == 1  # untouched: no copy for it
    with consumer_running(pair):
        wait_until(lambda: pair.effect_count() == 1, message="the redelivered event handled")
    client.close()


def test_no_redelivery_to_a_consumer_that_is_only_behind(pair: Pair) -> None:
    pair.publisher.redeliver_after = 0
    with pair.publisher.db.transaction() as session:
        pair.publisher.outbox.add(session, joined("Reijo"))
    # Both consumers still have it queued (nobody consumed): they are behind, nothing is lost.
    assert pair.publisher.redelivery().sweep() == (0, 0)
    assert queue_length(pair, "experiments.events") == 1


def test_a_dead_letter_never_keeps_an_unsealed_link_token(pair: Pair) -> None:
    raw = Envelope(
        type="members.sign_in.requested.v1",
        version=1,
        producer="members",
        data={"member_id": "m", "token": "working-token"},
    ).to_dict()
    sealed = {**raw, "id": str(uuid.uuid4()), "data": {**raw["data"], "token": "sealed:abc"}}
    for envelope in (raw, sealed):
        pair.consumer.consumer.dead_letter(envelope, ValueError("no"), 1)
    kept = [d["envelope"]["data"]["token"] for d in pair.consumer.consumer.list_dead_letters()]
    assert kept == ["[withheld: not sealed]", "sealed:abc"]
