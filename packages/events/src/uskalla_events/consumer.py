"""Idempotent consumers: the inbox row and the handler's effect commit together."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import kombu.exceptions
import redis.exceptions
from celery import Celery, Task
from kombu import Exchange, Queue
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from uskalla_events.celery_app import EVENT_TASK, EVENTS_TASK
from uskalla_events.context import correlation_id
from uskalla_events.contracts import (
    CONTRACTS,
    consumed_by,
    contract_of,
    queue_name,
    withhold_secrets,
)
from uskalla_events.db import Database
from uskalla_events.envelope import Envelope
from uskalla_events.payloads import Payload
from uskalla_events.tables import EventTables

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
#: A handler gets the envelope (id, time, correlation id) and its payload as the object.
Handler = Callable[[Session, Envelope, Any], None]


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
    """A service's handlers by event type, named by its payload class: `@handlers.on(MemberJoined)`
    registers `def joined(session, event: Envelope, payload: MemberJoined)`."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._handlers: dict[str, Handler] = {}

    def on(
        self, payload: type[P]
    ) -> Callable[[Callable[[Session, Envelope, P], None]], Callable[[Session, Envelope, P], None]]:
        event_type = contract_of(payload).type
        if self.service not in CONTRACTS[event_type].consumers:
            raise ValueError(f"{self.service} is not a consumer of {event_type} in the contracts")

        def register(
            fn: Callable[[Session, Envelope, P], None],
        ) -> Callable[[Session, Envelope, P], None]:
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
        handler, payload = self._checked(envelope)
        with self.db.transaction() as session:
            first = session.execute(
                self._record, {"event_id": envelope.id, "type": envelope.type}
            ).first()
            if first is None:
                log.info("event already handled", extra={"event_id": envelope.id})
                return False
            handler(session, envelope, payload)
        return True

    def handle_many(self, envelopes: list[Envelope]) -> int:
        """Handle several events in one transaction: all of them, or (on any error) none.

        Their inbox rows go in one statement, and each new event's handler runs in turn, in
        order. Returns how many were new. A caller whose batch failed handles the events one
        by one (`handle`), so that one bad event cannot hold back the others.
        """
        checked = [(e, *self._checked(e)) for e in envelopes]
        rows = {e.id: {"event_id": e.id, "type": e.type} for e, _, _ in checked}
        with self.db.transaction() as session:
            # One statement for all rows (SQLAlchemy's "insertmanyvalues"), compiled once.
            new = {str(i) for i in session.scalars(self._record, list(rows.values()))}
            handled = 0
            for envelope, handler, payload in checked:
                if envelope.id not in new:
                    log.info("event already handled", extra={"event_id": envelope.id})
                    continue
                new.discard(envelope.id)  # twice in one batch: handled once
                token = correlation_id.set(envelope.correlation_id)
                try:
                    handler(session, envelope, payload)
                finally:
                    correlation_id.reset(token)
                handled += 1
        return handled

    def _checked(self, envelope: Envelope) -> tuple[Handler, Payload]:
        """The event's handler, and its payload loaded (ValidationError if it breaks the
        contract: a permanent error, dead-lettered)."""
        handler = self.handlers.get(envelope.type)
        if handler is None:
            raise LookupError(f"{self.handlers.service} has no handler for {envelope.type}")
        return handler, CONTRACTS[envelope.type].load(envelope.data)

    def dead_letter(self, raw: dict[str, Any], error: BaseException, attempts: int) -> None:
        with self.db.transaction() as session:
            session.execute(
                insert(self.tables.dead_letters).values(
                    event_id=str(raw.get("id")),
                    type=str(raw.get("type", "?")),
                    envelope=withhold_secrets(raw),
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
    """Publish one envelope as the event task message (see `send_events`)."""
    send_events(app, [envelope], **options)


def send_events(app: Celery, envelopes: list[dict[str, Any]], **options: Any) -> None:
    """Publish envelopes of one type, in order, as one message.

    One envelope goes as the `uskalla.event` task, several as one `uskalla.events` task.
    Through the topic exchange unless a queue is named. kombu's Redis transport silently drops
    a topic message that no binding matches, so such a message goes to the unroutable queue.
    """
    first = envelopes[0]
    event_type = first["type"]
    if any(e["type"] != event_type for e in envelopes):
        raise ValueError("one message carries events of one type")
    if "queue" not in options:
        from uskalla_events.celery_app import EVENTS_EXCHANGE, UNROUTABLE_QUEUE

        if bound_queues(app, event_type):
            options.update(exchange=EVENTS_EXCHANGE, routing_key=event_type)
        else:
            log.error("no queue is bound for %s; kept in %s", event_type, UNROUTABLE_QUEUE)
            options.update(queue=direct_queue_named(UNROUTABLE_QUEUE))
    args: list[Any]
    if len(envelopes) == 1:
        name, args, task_id = EVENT_TASK, [first], first["id"]
        shown = f"[{event_type} {first['id']}]"
    else:
        name, args, task_id = EVENTS_TASK, [envelopes], str(uuid.uuid4())
        shown = f"[{len(envelopes)} x {event_type} {first['id']}..{envelopes[-1]['id']}]"
    app.send_task(
        name,
        args=args,
        task_id=task_id,
        retry=True,
        retry_policy={"max_retries": 5, "interval_start": 0.2, "interval_step": 0.5},
        headers={"correlation_id": first.get("correlation_id")},
        # What Celery logs instead of the arguments: never personal data in log lines.
        argsrepr=shown,
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


def _as_event(raw: Any) -> dict[str, Any]:
    """A message's envelope; anything else kept whole, to fail the contract and be dead-lettered."""
    return raw if isinstance(raw, dict) else {"raw": repr(raw)}


def register_event_task(
    app: Celery,
    consumer: Consumer,
    *,
    confirm: Callable[[str], None] | None = None,
    max_retries: int = 8,
    backoff_base: float = 2.0,
    backoff_cap: float = 300.0,
) -> Task:
    """Register `uskalla.event` and `uskalla.events`: dispatch, retry temporary errors with
    backoff, then dead-letter. A batch is handled in one transaction; if that fails, each of
    its events is handled (and if need be retried or dead-lettered) on its own."""
    service = consumer.handlers.service

    def received(raw: dict[str, Any]) -> None:
        # Only after the inbox row committed (or the dead letter was written): the relay
        # redelivers events that a consumer never confirmed.
        if confirm is not None and raw.get("id"):
            try:
                confirm(str(raw["id"]))
            except Exception:
                log.warning("receipt not written; the event may be redelivered", exc_info=True)

    def attempt(raw: dict[str, Any], retries: int) -> BaseException | None:
        """Handle one event; the temporary error to retry it for, or None when it is done
        (handled, seen before, or dead-lettered)."""
        token = correlation_id.set(raw.get("correlation_id"))
        try:
            try:
                consumer.handle(Envelope.from_dict(raw))
            except TEMPORARY_ERRORS as exc:
                if retries < max_retries:
                    log.warning("event handler failed, will retry", extra={"attempt": retries + 1})
                    return exc
                consumer.dead_letter(raw, exc, retries + 1)
            except Exception as exc:
                consumer.dead_letter(raw, exc, retries + 1)
        except TEMPORARY_ERRORS as exc:  # the dead letter itself could not be written
            return exc
        finally:
            correlation_id.reset(token)
        received(raw)
        return None

    @app.task(name=EVENT_TASK, bind=True, shared=False, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def handle_event(self: Task, raw: Any) -> None:
        retries = self.request.retries
        raw = _as_event(raw)
        failure = attempt(raw, retries)
        if failure is not None:
            raise self.retry(
                exc=failure,
                countdown=backoff(retries, backoff_base, backoff_cap),
                max_retries=None,
                queue=direct_queue(service),
            )

    @app.task(name=EVENTS_TASK, bind=True, shared=False, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def handle_events(self: Task, raws: Any) -> None:
        raws = raws if isinstance(raws, list) else [raws]
        raws = [_as_event(raw) for raw in raws]
        try:
            consumer.handle_many([Envelope.from_dict(raw) for raw in raws])
        except Exception:
            log.info("a batch of events failed together; handling them one by one", exc_info=True)
        else:
            for raw in raws:
                received(raw)
            return
        for raw in raws:
            failure = attempt(raw, 0)
            if failure is None:
                continue
            try:  # this one alone comes back later, to this consumer only
                send_event(
                    app,
                    raw,
                    queue=direct_queue(service),
                    countdown=backoff(0, backoff_base, backoff_cap),
                    retries=1,
                )
            except Exception:
                log.warning(
                    "retry not sent; the relay redelivers the unconfirmed event",
                    extra={"event_id": raw.get("id")},
                    exc_info=True,
                )

    return handle_event
