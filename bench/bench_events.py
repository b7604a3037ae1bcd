"""Events per second from outbox commit to handled-by-consumer, beside plain kombu on one Redis.

The platform: a publisher EventSystem ("members") writes each event with Outbox.add in its own
transaction from BENCH_PUBLISHERS threads (as API threads would), and the outbox publishes it
right after the commit; a consumer EventSystem ("experiments") runs its real Celery worker
in this process (threads pool, the services' default concurrency of 4), and its handler writes
one row per event in the inbox's transaction. Timed from the first commit until the last
effect has committed (taken in the handler's after-commit step).

The plain loop: kombu's Producer publishes the same JSON envelopes to a queue on the same
Redis while a kombu Consumer drains them with an ack each, same count; timed from the first
publish to the last ack. Both run in this process, alternating rounds so they share the
machine's noise; the median round of each is compared. Target ratio: at least 0.5.

    .venv/bin/python bench/bench_events.py   # BENCH_EVENTS=2000 BENCH_ROUNDS=2
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from contextlib import suppress
from typing import Any

from celery.contrib.testing.worker import start_worker
from common import drop_database, machine, servers
from kombu import Connection, Exchange, Producer, Queue
from kombu import Consumer as KombuConsumer
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid
from sqlalchemy.orm import Session
from uskalla_devstack.servers import create_database
from uskalla_events import (
    Database,
    Envelope,
    EventHandlers,
    EventSystem,
    after_commit,
    event_tables,
    new_envelope,
)

N = int(os.environ.get("BENCH_EVENTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PUBLISHERS = int(os.environ.get("BENCH_PUBLISHERS", "4"))
CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "4"))
EVENT = "members.member.joined.v1"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

metadata = MetaData()
TABLES = event_tables(metadata)
effects = Table(
    "bench_effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
)


def joined(n: int) -> dict[str, Any]:
    return {
        "member_id": str(uuid.uuid4()),
        "email": f"jasen{n}@example.fi",
        "name": f"Jäsen {n}",
        "language": "fi",
        "organisation": "Espoon kaupunki",
        "newsletter": True,
        "invitations": False,
        "joined_at": "2026-11-27T10:00:00Z",
    }


class Platform:
    """A publisher and a consumer EventSystem on their own databases, on one Redis."""

    def __init__(self, pg: str, rd: str) -> None:
        self.urls = [create_database(pg, f"bench_events_{s}_{WORKER}", drop=True) for s in "pc"]
        self.done: list[float] = []
        self.lock = threading.Lock()
        handlers = EventHandlers("experiments")

        @handlers.on(EVENT)
        def record(session: Session, event: Envelope) -> None:
            session.execute(effects.insert().values(event_id=event.id, name=event.data["name"]))
            after_commit(session, self._handled)

        self.publisher = self._system("members", self.urls[0], rd, EventHandlers("members"))
        self.consumer = self._system("experiments", self.urls[1], rd, handlers)

    @staticmethod
    def _system(service: str, url: str, rd: str, handlers: EventHandlers) -> EventSystem:
        db = Database(url, pool_size=PUBLISHERS + CONCURRENCY)
        metadata.create_all(db.engine)
        return EventSystem(service, db, TABLES, handlers, rd)

    def _handled(self) -> None:
        with self.lock:
            self.done.append(time.monotonic())

    def run(self, count: int) -> float:
        """Publish `count` events from the publisher threads; seconds until the last is handled."""
        with self.lock:
            self.done.clear()
        envelopes = [joined(i) for i in range(count)]

        def publish(chunk: list[dict[str, Any]]) -> None:
            for data in chunk:
                with self.publisher.db.transaction() as session:
                    self.publisher.outbox.add(session, EVENT, data)

        threads = [
            threading.Thread(target=publish, args=(envelopes[i::PUBLISHERS],))
            for i in range(PUBLISHERS)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        while len(self.done) < count:
            if time.monotonic() - began > 600:
                raise TimeoutError(f"only {len(self.done)} of {count} events handled")
            time.sleep(0.005)
        return self.done[count - 1] - began

    def close(self, pg: str) -> None:
        for system in (self.publisher, self.consumer):
            system.db.dispose()
        for url in self.urls:
            drop_database(pg, url)


def plain_kombu(rd: str, count: int) -> float:
    """Producer.publish of the same JSON envelopes, a Consumer draining them with ack."""
    exchange = Exchange("bench.plain", type="direct", durable=True)
    queue = Queue("bench.plain", exchange, routing_key="bench.plain", durable=True)
    payloads = [new_envelope(EVENT, joined(i)).to_dict() for i in range(count)]
    received: list[float] = []
    ready = threading.Event()

    def consume() -> None:
        def on_message(body: Any, message: Any) -> None:
            message.ack()
            received.append(time.monotonic())

        with (
            Connection(rd) as conn,
            KombuConsumer(conn, queues=[queue], callbacks=[on_message], accept=["json"]),
        ):
            ready.set()
            while len(received) < count:
                with suppress(TimeoutError):
                    conn.drain_events(timeout=1)

    with Connection(rd) as conn:
        queue(conn.default_channel).declare()
        consumer = threading.Thread(target=consume)
        consumer.start()
        ready.wait()
        producer = Producer(conn.default_channel)
        began = time.monotonic()
        for payload in payloads:
            producer.publish(
                payload, exchange=exchange, routing_key="bench.plain", serializer="json"
            )
        consumer.join()
    return received[-1] - began


def main() -> None:
    print(f"events: {N} per round, {ROUNDS} rounds; {PUBLISHERS} publisher threads, "
          f"worker concurrency {CONCURRENCY}; {machine()}")  # fmt: skip
    with servers("events") as (pg, rd, _work):
        platform = Platform(pg, rd)
        platform.consumer.declare()
        try:
            with start_worker(
                platform.consumer.celery,
                pool="threads",
                concurrency=CONCURRENCY,
                perform_ping_check=False,
                shutdown_timeout=30,
                loglevel="WARNING",
            ):
                plain_kombu(rd, min(200, N))  # warm-up: connections, pools, imports
                platform.run(min(200, N))
                plain, ours = [], []
                for round_no in range(1, ROUNDS + 1):
                    plain.append(N / plain_kombu(rd, N))
                    ours.append(N / platform.run(N))
                    print(f"  round {round_no}: plain kombu {plain[-1]:8.0f}/s"
                          f"   outbox→consumer {ours[-1]:7.0f}/s")  # fmt: skip
            pending = platform.publisher.outbox.pending_count()
        finally:
            platform.close(pg)
    p, o = statistics.median(plain), statistics.median(ours)
    print(f"plain kombu publish/consume:        {p:8.0f} events/s (median of {ROUNDS})")
    print(f"outbox commit → handled by consumer: {o:7.0f} events/s (median of {ROUNDS})")
    print(f"ratio {o / p:.3f} (target ≥ 0.5); outbox rows left unpublished: {pending}")


if __name__ == "__main__":
    main()
