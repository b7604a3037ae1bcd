"""Celery wiring shared by every service: the settings DESIGN.md asks for, in one place."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from uskalla_events.contracts import SERVICES, consumed_by, queue_name
from uskalla_events.redis_tls import tls_options
from uskalla_events.transport import TRANSPORT

EVENTS_EXCHANGE = Exchange("events", type="topic", durable=True)
#: Where kombu puts a message that no binding matched, instead of dropping it.
UNROUTABLE_QUEUE = "events.unroutable"
#: The single task name every service's worker registers for incoming events.
EVENT_TASK = "uskalla.event"
#: The same for several events of one type that travel together (their envelopes, in order).
EVENTS_TASK = "uskalla.events"


def event_queue(service: str) -> Queue:
    """A consuming service's durable queue with one binding per event type it consumes."""
    from kombu import binding

    return Queue(
        queue_name(service),
        exchange=EVENTS_EXCHANGE,
        bindings=[binding(EVENTS_EXCHANGE, routing_key=key) for key in consumed_by(service)],
        durable=True,
    )


def all_event_queues() -> list[Queue]:
    return [event_queue(s) for s in SERVICES if consumed_by(s)]


def make_celery(
    service: str,
    broker_url: str,
    *,
    visibility_timeout: int = 3600,
    extra_queues: list[Queue] | None = None,
) -> Celery:
    """A Celery app for one service: JSON only, late acks, prefetch 1, results ignored."""
    app = Celery(service, broker=broker_url, set_as_current=False)
    if broker_url.startswith(("redis://", "rediss://")):
        app.conf.broker_transport = TRANSPORT
    # kombu alone would take rediss:// with verification off; these options turn it on.
    app.conf.broker_use_ssl = tls_options(broker_url) or False
    own_queues = ([event_queue(service)] if consumed_by(service) else []) + (extra_queues or [])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=own_queues,
        task_default_queue=own_queues[0].name if own_queues else f"{service}.tasks",
        task_create_missing_queues=False,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            "deadletter_queue": UNROUTABLE_QUEUE,
            # Sweep for messages a killed worker had taken every 10 s (kombu's default scans
            # only every 10th time, ~100 s), so they come back soon after the visibility timeout.
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
        timezone="UTC",
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


def declare_topology(app: Celery, extra: list[Queue] | None = None) -> None:
    """Declare the exchange, every service's queue and bindings, so nothing published is dropped.

    Every service does this at start, publishers included: an event published before its
    consumer ever ran is then already kept in the consumer's queue.
    """
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        EVENTS_EXCHANGE(channel).declare()
        for queue in [*all_event_queues(), Queue(UNROUTABLE_QUEUE, durable=True), *(extra or [])]:
            queue(channel).declare()
