"""Events per second from outbox commit to handled-by-consumer, beside plain kombu on one Redis.

The platform: a publisher EventSystem ("members") writes each event with Outbox.add in its own
transaction from BENCH_PUBLISHERS threads (as API threads would), and the outbox publishes it
right after the commit; a consumer EventSystem ("experiments") runs its real Celery worker
in this process (threads pool, the services' default concurrency of 4), and its handler writes
one row per event in the inbox's transaction. Timed from the first commit until the last
effect has committed (taken in the handler's after-commit step). Events committed while
another publish is in flight travel together in one message, as they do in the services
(outbox.py): how many each message carried is printed.

Then the same with the consumer's worker in a process of its own, started as the services
start theirs (`run_worker`: threads pool, concurrency 4): as deployed, where the API that
publishes and the worker that consumes never share an interpreter. Timed from the first
commit until the last effect row's insert (its clock_timestamp()). Printed beside the first,
each with its own plain-loop rounds; the target's ratio is the first one's.

The plain loop: kombu's Producer publishes the same JSON envelopes to a queue on the same
Redis while a kombu Consumer drains them with an ack each, same count; timed from the first
publish to the last ack.

Plain Celery, what a user would pick instead of the platform: a task per event, `.delay()` of
the same JSON envelope from the same publisher threads into a Celery worker on the same Redis
(threads pool, the same concurrency, in this process like the platform's; Celery's defaults
otherwise: early acks, prefetch multiplier 4), the task inserting the same effect row in a
transaction of its own. It has neither the outbox (a task sent before a crash loses the
commit's event, or one sent after a rolled-back commit is a phantom) nor the inbox (a
redelivered task inserts twice); the platform keeps both. Timed like the platform, from the
first `.delay()` until the last effect has committed. Per message: the platform's messages
carry several events, a task one: both figures are printed.

All three run in this process, alternating rounds so they share the machine's noise; the
median round of each is compared. Targets: at least 0.5 of plain kombu, at least 1.0 of plain
Celery. Ends with RESULT lines.

    .venv/bin/python bench/bench_events.py   # BENCH_EVENTS=2000 BENCH_ROUNDS=2
    (BENCH_WORKER_PROCESS=off leaves out the second measurement)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, TypeVar

import psutil
from celery import Celery
from celery.contrib.testing.worker import start_worker
from common import drop_database, machine, result, servers, tree_cpu
from kombu import Connection, Exchange, Producer, Queue
from kombu import Consumer as KombuConsumer
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid, func, select
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
from uskalla_events.contracts import MemberJoined
from uskalla_events.vocabulary import Language

N = int(os.environ.get("BENCH_EVENTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PUBLISHERS = int(os.environ.get("BENCH_PUBLISHERS", "4"))
CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "4"))
WORKER_PROCESS = os.environ.get("BENCH_WORKER_PROCESS", "on") != "off"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
T = TypeVar("T")

metadata = MetaData()
TABLES = event_tables(metadata)
effects = Table(
    "bench_effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("handled_at", DateTime(timezone=True), server_default=func.clock_timestamp()),
)


def joined(n: int) -> MemberJoined:
    return MemberJoined(
        member_id=uuid.uuid4(),
        email=f"jasen{n}@example.fi",
        name=f"Jäsen {n}",
        language=Language.FI,
        organisation="Espoon kaupunki",
        newsletter=True,
        invitations=False,
        joined_at=datetime(2026, 11, 27, 10, tzinfo=UTC),
    )


def from_publishers(items: list[T], send: Callable[[T], object]) -> float:
    """`send` every item from BENCH_PUBLISHERS threads (as API threads would), each its share
    in turn; the monotonic time they began."""

    def publish(chunk: list[T]) -> None:
        for item in chunk:
            send(item)

    threads = [
        threading.Thread(target=publish, args=(items[i::PUBLISHERS],)) for i in range(PUBLISHERS)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return began


class Platform:
    """A publisher and a consumer EventSystem on their own databases, on one Redis."""

    def __init__(self, pg: str, rd: str) -> None:
        self.urls = [create_database(pg, f"bench_events_{s}_{WORKER}", drop=True) for s in "pc"]
        self.done: list[float] = []
        self.lock = threading.Lock()
        self.publisher = self._system("members", self.urls[0], rd, EventHandlers("members"))
        self.consumer = self._system("experiments", self.urls[1], rd, recording(self._handled))
        self.messages: list[int] = []  # events per message sent, in the measured rounds
        publish = self.publisher.outbox.publish

        def counted(envelopes: list[dict[str, Any]]) -> None:
            publish(envelopes)
            self.messages.append(len(envelopes))

        self.publisher.outbox.publish = counted

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
        began = self.publish(count)
        while len(self.done) < count:
            if time.monotonic() - began > 600:
                raise TimeoutError(f"only {len(self.done)} of {count} events handled")
            time.sleep(0.005)
        return self.done[count - 1] - began

    def run_elsewhere(self, count: int) -> float:
        """The same, handled by a worker in another process: until its last effect row."""
        with self.consumer.db.transaction() as session:
            before = session.scalar(select(func.count()).select_from(effects)) or 0
        began_wall = time.time() - time.monotonic()
        began = self.publish(count)
        while True:
            with self.consumer.db.transaction() as session:
                n, last = session.execute(
                    select(func.count(), func.extract("epoch", func.max(effects.c.handled_at)))
                ).one()
            if n >= before + count:
                return float(last) - began_wall - began
            if time.monotonic() - began > 600:
                raise TimeoutError(f"only {n - before} of {count} events handled")
            time.sleep(0.05)  # the time is the rows' own: polling often would only add load

    def publish(self, count: int) -> float:
        """Start `count` commits from the publisher threads; the monotonic time they began."""
        envelopes = [joined(i) for i in range(count)]

        def publish(payload: MemberJoined) -> None:
            with self.publisher.db.transaction() as session:
                self.publisher.outbox.add(session, payload)

        return from_publishers(envelopes, publish)

    def close(self, pg: str) -> None:
        for system in (self.publisher, self.consumer):
            system.db.dispose()
        for url in self.urls:
            drop_database(pg, url)


class PlainCelery:
    """A Celery task per event on the same Redis, its worker inserting the same effect row."""

    def __init__(self, rd: str, db: Database) -> None:
        self.db = db
        self.done: list[float] = []
        self.lock = threading.Lock()
        self.app = Celery("bench_plain_celery", broker=rd, set_as_current=False)
        self.app.conf.update(
            task_default_queue="bench.plain_celery",
            task_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,
            broker_connection_retry_on_startup=True,
            worker_hijack_root_logger=False,
        )

        def record(envelope: dict[str, Any]) -> None:
            with db.transaction() as session:
                values = {"event_id": uuid.UUID(envelope["id"]), "name": envelope["data"]["name"]}
                session.execute(effects.insert().values(**values))
            with self.lock:
                self.done.append(time.monotonic())

        self.record = self.app.task(name="bench.record_effect")(record)

    def run(self, count: int) -> float:
        """`.delay()` `count` envelopes from the publisher threads; seconds until the last
        task's effect has committed."""
        with self.lock:
            self.done.clear()
        envelopes = [new_envelope(joined(i)).to_dict() for i in range(count)]
        began = from_publishers(envelopes, self.record.delay)
        while len(self.done) < count:
            if time.monotonic() - began > 600:
                raise TimeoutError(f"only {len(self.done)} of {count} tasks handled")
            time.sleep(0.005)
        return self.done[count - 1] - began


class CpuMeter:
    """CPU seconds spent per role during the measured rounds of one kind."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.events = 0

    def measure(self, count: int, run: Callable[[], float], worker: int | None = None) -> float:
        before = cpu_by_role(worker)
        result = run()
        for role, seconds in cpu_by_role(worker).items():
            self.spent[role] = self.spent.get(role, 0.0) + seconds - before.get(role, 0.0)
        self.events += count
        return result

    def per_event(self) -> str:
        shares = [f"{role} {s / self.events * 1000:.2f}" for role, s in self.spent.items() if s]
        return ", ".join(shares) + f"; all {sum(self.spent.values()) / self.events * 1000:.2f}"


def cpu_by_role(worker: int | None) -> dict[str, float]:
    """This process, the worker process (if any), and every PostgreSQL and Redis process."""
    mine = psutil.Process().cpu_times()
    roles = {"this process": mine.user + mine.system}
    if worker is not None:
        roles["worker process"] = tree_cpu(worker)
    roles["PostgreSQL"] = roles["Redis"] = 0.0
    for proc in psutil.process_iter(["name"]):
        role = {"postgres": "PostgreSQL", "redis-server": "Redis"}.get(proc.info["name"] or "")
        if role:
            with suppress(psutil.Error):
                times = proc.cpu_times()
                roles[role] += times.user + times.system
    return roles


def recording(handled: Callable[[], None] | None = None) -> EventHandlers:
    """The consumer's handler: one effect row per event, in the inbox's transaction."""
    handlers = EventHandlers("experiments")

    @handlers.on(MemberJoined)
    def record(session: Session, event: Envelope, payload: MemberJoined) -> None:
        session.execute(effects.insert().values(event_id=event.id, name=payload.name))
        if handled is not None:
            after_commit(session, handled)

    return handlers


def in_process_worker(app: Celery) -> Any:
    """A Celery worker for `app` in this process: threads pool, the services' concurrency."""
    return start_worker(
        app,
        pool="threads",
        concurrency=CONCURRENCY,
        perform_ping_check=False,
        shutdown_timeout=30,
        loglevel="WARNING",
    )


def worker_process(url: str, rd: str) -> None:
    """`bench_events.py worker URL REDIS`: the consumer's worker as the services run theirs."""
    from uskalla_events import queue_name
    from uskalla_kit.logs import configure_logging
    from uskalla_kit.processes import run_worker

    # The services' own logging and level (LOG_LEVEL, INFO unless set), as in production.
    configure_logging("experiments", os.environ.get("LOG_LEVEL", "INFO"))
    db = Database(url, pool_size=CONCURRENCY)
    system = EventSystem("experiments", db, TABLES, recording(), rd)
    system.declare()
    run_worker(system.celery, [queue_name("experiments")], CONCURRENCY, heartbeat=None)


def plain_kombu(rd: str, count: int) -> float:
    """Producer.publish of the same JSON envelopes, a Consumer draining them with ack."""
    exchange = Exchange("bench.plain", type="direct", durable=True)
    queue = Queue("bench.plain", exchange, routing_key="bench.plain", durable=True)
    payloads = [new_envelope(joined(i)).to_dict() for i in range(count)]
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
    if sys.argv[1:2] == ["worker"]:
        worker_process(sys.argv[2], sys.argv[3])
        return
    print(f"events: {N} per round, {ROUNDS} rounds; {PUBLISHERS} publisher threads, "
          f"worker concurrency {CONCURRENCY}; {machine()}")  # fmt: skip
    plain, ours, celery, plain_apart, apart = [], [], [], [], []
    meters = {
        "plain kombu": CpuMeter(),
        "plain Celery": CpuMeter(),
        "in one process": CpuMeter(),
        "as deployed": CpuMeter(),
    }
    with servers("events") as (pg, rd, work):
        platform = Platform(pg, rd)
        platform.consumer.declare()
        tasks = PlainCelery(rd, platform.consumer.db)
        try:
            # One Celery worker at a time: two in one process stall each other's threads.
            for round_no in range(1, ROUNDS + 1):
                with in_process_worker(platform.consumer.celery):
                    if round_no == 1:
                        plain_kombu(rd, min(200, N))  # warm-up: connections, pools, imports
                        platform.run(min(200, N))
                        platform.messages.clear()
                    plain.append(N / meters["plain kombu"].measure(N, lambda: plain_kombu(rd, N)))
                    ours.append(N / meters["in one process"].measure(N, lambda: platform.run(N)))
                with in_process_worker(tasks.app):
                    if round_no == 1:
                        tasks.run(min(200, N))
                    celery.append(N / meters["plain Celery"].measure(N, lambda: tasks.run(N)))
                print(f"  round {round_no}: plain kombu {plain[-1]:8.0f}/s"
                      f"   outbox→consumer {ours[-1]:7.0f}/s"
                      f"   plain Celery {celery[-1]:7.0f}/s")  # fmt: skip
            if WORKER_PROCESS:
                log = (work / "worker.log").open("wb")
                worker = subprocess.Popen(
                    [sys.executable, __file__, "worker", platform.urls[1], rd],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    in_one_process, platform.messages = platform.messages, []
                    platform.run_elsewhere(min(200, N))  # also waits for the worker to start
                    platform.messages.clear()
                    for round_no in range(1, ROUNDS + 1):
                        plain_apart.append(N / plain_kombu(rd, N))
                        apart.append(
                            N
                            / meters["as deployed"].measure(
                                N, lambda: platform.run_elsewhere(N), worker.pid
                            )
                        )
                        print(f"  round {round_no}: plain kombu {plain_apart[-1]:8.0f}/s"
                              f"   outbox→worker process {apart[-1]:4.0f}/s")  # fmt: skip
                finally:
                    worker.terminate()
                    worker.wait(60)
            pending = platform.publisher.outbox.pending_count()
            if WORKER_PROCESS:
                as_deployed = platform.messages
            else:
                in_one_process, as_deployed = platform.messages, []
        finally:
            platform.close(pg)
    p, o, c = statistics.median(plain), statistics.median(ours), statistics.median(celery)
    per_message = sum(in_one_process) / len(in_one_process) if in_one_process else 1.0
    print(
        f"plain kombu publish/consume:         {p:8.0f} events/s = messages/s (median of {ROUNDS})"
    )
    print(
        f"plain Celery .delay() → task effect: {c:8.0f} events/s = messages/s (median of {ROUNDS})"
    )
    print(
        f"outbox commit → handled by consumer: {o:8.0f} events/s, {o / per_message:.0f} messages/s"
        f" ({per_message:.1f} events per message; median of {ROUNDS})"
    )
    print(f"ratio to plain kombu {o / p:.3f} (target ≥ 0.5), to plain Celery {o / c:.3f}"
          f" (target ≥ 1.0); outbox rows left unpublished: {pending}")  # fmt: skip
    if apart:
        p2, o2 = statistics.median(plain_apart), statistics.median(apart)
        print(f"with the worker in its own process, as deployed: {o2:.0f} events/s beside "
              f"plain kombu's {p2:.0f}/s: ratio {o2 / p2:.3f}")  # fmt: skip
    for kind, sizes in (("in one process", in_one_process), ("as deployed", as_deployed)):
        if sizes:
            print(f"events per message, {kind}: {sum(sizes) / len(sizes):.1f} on average "
                  f"({len(sizes)} messages; {sizes.count(1)} with one event, "
                  f"the largest {max(sizes)})")  # fmt: skip
    print("CPU ms per event, by process (measured rounds):")
    for kind, meter in meters.items():
        if meter.events:
            print(f"  {kind:>15}: {meter.per_event()}")
    result("events_platform_per_s", o, "events/s", f">={c:.0f}")
    result("events_ratio_to_plain_kombu", o / p, "ratio", ">=0.5")
    result("events_ratio_to_plain_celery", o / c, "ratio", ">=1.0")
    result("events_outbox_rows_left_unpublished", pending, "rows", "<=0")
    if apart:
        result("events_as_deployed_ratio_to_plain_kombu", o2 / p2, "ratio", ">=0.5")


if __name__ == "__main__":
    main()
