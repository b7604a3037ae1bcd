"""One service's event system: its Celery app, outbox, handlers, consumer and relay together."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from kombu import Queue

from uskalla_events.celery_app import declare_topology, make_celery
from uskalla_events.consumer import (
    Consumer,
    EventHandlers,
    direct_queue,
    register_event_task,
    send_events,
)
from uskalla_events.contracts import consumed_by
from uskalla_events.db import Database
from uskalla_events.outbox import Outbox
from uskalla_events.receipts import Receipts, Redelivery
from uskalla_events.relay import Relay
from uskalla_events.tables import EventTables


class EventSystem:
    """Everything a service needs to publish and consume events reliably."""

    def __init__(
        self,
        service: str,
        db: Database,
        tables: EventTables,
        handlers: EventHandlers,
        broker_url: str,
        *,
        visibility_timeout: int = 3600,
        extra_queues: list[Queue] | None = None,
        max_retries: int = 8,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        redeliver_after: float = 30.0,
    ) -> None:
        self.service = service
        self.db = db
        self.tables = tables
        self.extra_queues = extra_queues or []
        self.celery: Celery = make_celery(
            service, broker_url, visibility_timeout=visibility_timeout, extra_queues=extra_queues
        )
        self.outbox = Outbox(db, tables, self._publish)
        self.handlers = handlers
        self.consumer = Consumer(db, tables, handlers)
        self.broker_url = broker_url
        self.redeliver_after = redeliver_after
        self._receipts: Receipts | None = None
        if consumed_by(service):
            register_event_task(
                self.celery,
                self.consumer,
                confirm=lambda event_id: self.receipts.confirm_soon(service, event_id),
                max_retries=max_retries,
                backoff_base=backoff_base,
                backoff_cap=backoff_cap,
            )
        self._declared = False
        self._lock = threading.Lock()

    def declare(self) -> None:
        """Declare the whole topology (every service's queues), once per process."""
        with self._lock:
            if not self._declared:
                declare_topology(self.celery, self.extra_queues)
                self._declared = True

    def _publish(self, envelopes: list[dict[str, Any]]) -> None:
        self.declare()
        send_events(self.celery, envelopes)

    @property
    def receipts(self) -> Receipts:
        if self._receipts is None:
            self._receipts = Receipts(self.broker_url)
        return self._receipts

    def redelivery(self) -> Redelivery:
        def send(envelope: dict[str, Any], consumer: str) -> None:
            self.declare()
            send_events(self.celery, [envelope], queue=direct_queue(consumer))

        return Redelivery(self.db, self.tables, self.receipts, send, after=self.redeliver_after)

    def relay(
        self,
        *,
        interval: float = 1.0,
        retention_days: float = 7,
        jobs: Any = None,
        heartbeat_file: str | None = None,
        wake_channels: tuple[str, ...] = (),
    ) -> Relay:
        """The relay; with `wake_channels`, it also runs as soon as PostgreSQL notifies one."""
        heartbeat = (lambda: Path(heartbeat_file).touch()) if heartbeat_file else None
        redelivery = self.redelivery()
        relay = Relay(
            self.outbox,
            interval=interval,
            retention=timedelta(days=retention_days),
            jobs=[redelivery.sweep, *(jobs or [])],
            heartbeat=heartbeat,
        )
        if wake_channels:
            relay.listen(self.db, wake_channels)
        return relay
