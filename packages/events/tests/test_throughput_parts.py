"""The parts that keep per-event costs down, each shown doing its job on real servers:
batched outbox marks and receipts, the routing-table cache, the ping of idle connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis
from kombu import Exchange, Queue
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_events import Database
from uskalla_events.batching import Batcher
from uskalla_events.celery_app import UNROUTABLE_QUEUE
from uskalla_events.consumer import bound_queues
from uskalla_events.receipts import Receipts

from .conftest import TABLES, Pair, joined


def test_a_batcher_writes_what_gathered_together_and_survives_a_failed_write() -> None:
    written: list[list[int]] = []
    failed = threading.Event()

    def write(items: list[int]) -> None:
        if items == [0]:
            failed.set()
            raise ConnectionError("the database is away")
        written.append(items)

    batcher: Batcher[int] = Batcher(write, name="test-batcher", interval=0.2)
    batcher.add(0)
    assert failed.wait(5)  # logged; the thread lives on
    for i in range(1, 6):
        batcher.add(i)
    wait_until(lambda: written, message="the batch")
    assert written == [[1, 2, 3, 4, 5]]  # one write for the five
    batcher.add(6)
    batcher.flush()  # now, not after the interval
    assert written == [[1, 2, 3, 4, 5], [6]]


def test_published_rows_are_marked_in_a_batch_and_a_failed_publish_is_left_to_the_relay(
    pair: Pair,
) -> None:
    with pair.publisher.db.transaction() as session:
        for name in ("Aada", "Bea", "Cecilia"):
            pair.publisher.outbox.add(session, joined(name))

    def unmarked() -> int:
        with pair.publisher.db.transaction() as session:
            rows = session.execute(select(TABLES.outbox.c.published_at)).all()
            return sum(1 for r in rows if r.published_at is None)

    wait_until(lambda: unmarked() == 0, message="the marks written without a flush")

    publish = pair.publisher.outbox.publish

    def broker_away(envelope: dict[str, object]) -> None:
        raise redis.exceptions.ConnectionError("the broker is away")

    pair.publisher.outbox.publish = broker_away
    try:
        with pair.publisher.db.transaction() as session:
            pair.publisher.outbox.add(session, joined("Doris"))
    finally:
        pair.publisher.outbox.publish = publish
    time.sleep(0.2)
    assert pair.publisher.outbox.pending_count() == 1  # not marked: the relay's to publish
    assert pair.publisher.outbox.publish_pending() == 1


def test_receipts_confirmed_soon_arrive_together(redis_url: str) -> None:
    receipts = Receipts(redis_url, interval=0.1)
    try:
        receipts.confirm_soon("experiments", "e1")
        receipts.confirm_soon("notifications", "e1")
        receipts.confirm_soon("experiments", "e2")
        wait_until(
            lambda: (
                receipts.confirmed_by(["e1", "e2"])
                == {"e1": {"experiments", "notifications"}, "e2": {"experiments"}}
            ),
            message="the receipts",
        )
    finally:
        receipts.client.delete("events.receipts:e1", "events.receipts:e2")
        receipts.close()


def test_routes_are_cached_but_an_empty_table_is_read_every_time(pair: Pair) -> None:
    app = pair.publisher.celery
    exchange = Exchange("test.routes", type="topic", durable=True)
    queue = Queue("test.routes.q", exchange, routing_key="thing.#", durable=True)
    with app.connection_for_write() as conn:
        exchange(conn.default_channel).declare()
    lookup: Callable[[str], set[str]] = lambda key: _lookup(app, exchange, key)  # noqa: E731
    assert lookup("thing.made") == set()  # no binding yet: not cached
    with app.connection_for_write() as conn:  # another connection binds the queue
        queue(conn.default_channel).declare()
    assert lookup("thing.made") == {"test.routes.q"}  # seen at once, nothing went unroutable
    pair.publisher.declare()  # the events topology, not left to whichever test ran before
    assert bound_queues(app, "members.member.joined.v1") == {
        "experiments.events",
        "notifications.events",
    }
    client = redis.Redis.from_url(app.conf.broker_url)
    try:
        assert client.llen(UNROUTABLE_QUEUE) == 0
        client.delete(
            "test.routes.q", "_kombu.binding.test.routes", "_kombu.binding_permanent.test.routes"
        )
    finally:
        client.close()


def _lookup(app: object, exchange: Exchange, key: str) -> set[str]:
    with app.pool.acquire(block=True) as conn:  # type: ignore[attr-defined]
        channel = conn.default_channel
        table = channel.get_table(exchange.name)
        kind = channel.typeof(exchange.name, default="topic")
        return set(kind.lookup(table, exchange.name, key, None))


def _terminate_others(url: str, db: Database) -> None:
    with db.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    killer = Database(url, pool_size=1)
    try:
        with killer.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
    finally:
        killer.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("events_ping")
    db = Database(url, pool_size=1, ping_after_idle=0.05)
    try:
        _terminate_others(url, db)  # the pool's only connection dies while idle
        time.sleep(0.1)
        with db.transaction() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("events_noping")
    db = Database(url, pool_size=1, ping_after_idle=60)
    try:
        _terminate_others(url, db)  # died right after use: no ping, so the caller sees it once
        with pytest.raises(OperationalError), db.transaction() as session:
            session.execute(text("SELECT 1"))
        with db.transaction() as session:  # and the pool has replaced it
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()
