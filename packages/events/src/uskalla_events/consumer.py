"""Idempotent consumers: the inbox row and the handler's effect commit together."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import Celery, Task
from kombu import Exchange, Queue
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from uskalla_events.celery_app import EVENT_TASK
from uskalla_events.context import correlation_id
from uskalla_events.contracts import CONTRACTS, consumed_by, queue_name
from uskalla_events.db import Database
from uskalla_events.envelope import Envelope
from uskalla_events.tables import EventTables

log = logging.getLogger(__name__)

Handler = Callable[[Session, Envelope], None]


class TemporaryFailure(Exception):
    """A handler's way to say: try again later (a peer or resource is briefly unavailable)."""


#: Errors worth retrying with backoff; anything else goes straight to the dead letters.
TEMPORARY_ERRORS: tuple[type[BaseException], ...] = (
    TemporaryFailure,
    OperationalError,
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
)


class EventHandlers:
    """A service's handlers by event type: `@handlers.on("members.member.joined.v1")`."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: dict[str, Handler] = {}

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        contract = CONTRACTS.get(event_type)
        if contract is None or self.service not in contract.consumers:
            raise ValueError(f"{self.service} is not a consumer of {event_type} in the contracts")

        def register(fn: Handler) -> Handler:
            self._handlers[event_type] = fn
            return fn

        return register

    def get(self, event_type: str) -> Handler | None:
        return self._handlers.get(event_type)

    def missing(self) -> list[str]:
        """Contracted event types this service has no handler for."""
        return [t for t in consumed_by(self.service) if t not in self._handlers]


def direct_queue(service: str) -> Queue:
    """The service's event queue addressed directly (not through the topic exchange).

    Retries and dead-letter replays go here so that they reach only this consumer.
    """
    return direct_queue_named(queue_name(service))


def direct_queue_named(name: str) -> Queue:
    return Queue(name, exchange=Exchange("", type="direct"), routing_key=name, no_declare=True)


class Consumer:
    """Handles one envelope exactly once per service, or dead-letters it."""

    def __init__(self, db: Database, tables: EventTables, handlers: EventHandlers) -> None:
        self.db = db
        self.tables = tables
        self.handlers = handlers
        # Built once: only the parameters change per event (no statement building per call).
        self._record = (
            pg_insert(tables.inbox).on_conflict_do_nothing().returning(tables.inbox.c.event_id)
        )

    def handle(self, envelope: Envelope) -> bool:
        """Run the handler and record the event id in one transaction; False if seen before."""
        handler = self.handlers.get(envelope.type)
        if handler is None:
            raise LookupError(f"{self.handlers.service} has no handler for {envelope.type}")
        contract = CONTRACTS[envelope.type]
        validated = contract.validate(envelope.data)
        envelope = Envelope(**{**envelope.to_dict(), "data": validated})
        with self.db.transaction() as session:
            first = session.execute(
                self._record, {"event_id": envelope.id, "type": envelope.type}
            ).first()
            if first is None:
                log.info("event already handled", extra={"event_id": envelope.id})
                return False
            handler(session, envelope)
        return True

    def dead_letter(self, raw: dict[str, Any], error: BaseException, attempts: int) -> None:
        with self.db.transaction() as session:
            session.execute(
                insert(self.tables.dead_letters).values(
                    event_id=str(raw.get("id")),
                    type=str(raw.get("type", "?")),
                    envelope=raw,
                    error=f"{type(error).__name__}: {error}"[:4000],
                    attempts=attempts,
                )
            )
        log.error(
            "event dead-lettered",
            extra={"event_id": raw.get("id"), "event_type": raw.get("type"), "error": str(error)},
        )

    def list_dead_letters(self, include_retried: bool = False) -> list[dict[str, Any]]:
        t = self.tables.dead_letters
        query = select(t).order_by(t.c.id)
        if not include_retried:
            query = query.where(t.c.retried_at.is_(None))
        with self.db.transaction() as session:
            return [dict(row._mapping) for row in session.execute(query)]

    def retry_dead_letter(self, app: Celery, dead_letter_id: int) -> bool:
        """Send a dead-lettered envelope to this service's queue again."""
        from datetime import UTC, datetime

        t = self.tables.dead_letters
        with self.db.transaction() as session:
            row = session.execute(
                select(t)
                .where(t.c.id == dead_letter_id, t.c.retried_at.is_(None))
                .with_for_update()
            ).first()
            if row is None:
                return False
            send_event(app, row.envelope, queue=direct_queue(self.handlers.service))
            session.execute(update(t).where(t.c.id == row.id).values(retried_at=datetime.now(UTC)))
        return True


def send_event(app: Celery, envelope: dict[str, Any], **options: Any) -> None:
    """Publish one envelope as the event task message.

    Through the topic exchange unless a queue is named. kombu's Redis transport silently drops
    a topic message that no binding matches, so such a message goes to the unroutable queue.
    """
    if "queue" not in options:
        from uskalla_events.celery_app import EVENTS_EXCHANGE, UNROUTABLE_QUEUE

        if bound_queues(app, envelope["type"]):
            options.update(exchange=EVENTS_EXCHANGE, routing_key=envelope["type"])
        else:
            log.error("no queue is bound for %s; kept in %s", envelope["type"], UNROUTABLE_QUEUE)
            options.update(queue=direct_queue_named(UNROUTABLE_QUEUE))
    app.send_task(
        EVENT_TASK,
        args=[envelope],
        task_id=envelope["id"],
        retry=True,
        retry_policy={"max_retries": 5, "interval_start": 0.2, "interval_step": 0.5},
        headers={"correlation_id": envelope.get("correlation_id")},
        # What Celery logs instead of the arguments: never personal data in log lines.
        argsrepr=f"[{envelope['type']} {envelope['id']}]",
        kwargsrepr="{}",
        **options,
    )


def bound_queues(app: Celery, routing_key: str) -> set[str]:
    """The queues the events exchange would route `routing_key` to, read from the broker."""
    from uskalla_events.celery_app import EVENTS_EXCHANGE

    with app.pool.acquire(block=True) as conn:
        channel: Any = conn.default_channel
        table = channel.get_table(EVENTS_EXCHANGE.name)
        queues: set[str] = channel.typeof(EVENTS_EXCHANGE.name, default="topic").lookup(
            table, EVENTS_EXCHANGE.name, routing_key, None
        )
        return queues


def backoff(retries: int, base: float, cap: float) -> float:
    return float(min(cap, base * (2**retries)))


def register_event_task(
    app: Celery,
    consumer: Consumer,
    *,
    confirm: Callable[[str], None] | None = None,
    max_retries: int = 8,
    backoff_base: float = 2.0,
    backoff_cap: float = 300.0,
) -> Task:
    """Register `uskalla.event`: dispatch, retry temporary errors, then dead-letter."""
    service = consumer.handlers.service

    @app.task(name=EVENT_TASK, bind=True, shared=False, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def handle_event(self: Task, raw: Any) -> None:
        retries = self.request.retries
        raw = raw if isinstance(raw, dict) else {"raw": repr(raw)}
        token = correlation_id.set(raw.get("correlation_id"))

        def received() -> None:
            # Only after the inbox row committed (or the dead letter was written): the relay
            # redelivers events that a consumer never confirmed.
            if confirm is not None and raw.get("id"):
                try:
                    confirm(str(raw["id"]))
                except Exception:
                    log.warning("receipt not written; the event may be redelivered", exc_info=True)

        try:
            try:
                consumer.handle(Envelope.from_dict(raw))
                received()
                return
            except TEMPORARY_ERRORS as exc:
                if retries < max_retries:
                    log.warning("event handler failed, will retry", extra={"attempt": retries + 1})
                    failure: BaseException | None = exc
                else:
                    consumer.dead_letter(raw, exc, retries + 1)
                    received()
                    return
            except Exception as exc:
                consumer.dead_letter(raw, exc, retries + 1)
                received()
                return
        except TEMPORARY_ERRORS as exc:  # the dead letter itself could not be written
            failure = exc
        finally:
            correlation_id.reset(token)
        raise self.retry(
            exc=failure,
            countdown=backoff(retries, backoff_base, backoff_cap),
            max_retries=None,
            queue=direct_queue(service),
        )

    return handle_event
