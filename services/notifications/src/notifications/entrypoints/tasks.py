"""Celery tasks of the notifications worker (besides the shared event task)."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from notifications.service_layer import Services
from notifications.service_layer.deliveries import MAIL_QUEUE, SEND_TASK
from notifications.service_layer.fanouts import FANOUT_TASK

TASK_OPTIONS = {
    "shared": False,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
}


def register_tasks(app: Celery, services: Services) -> None:
    deliveries, fanouts = services.deliveries, services.fanouts

    @app.task(name=SEND_TASK, **TASK_OPTIONS)  # type: ignore[untyped-decorator]
    def send_delivery(delivery_id: str) -> str:
        return deliveries.send(delivery_id)

    @app.task(name=FANOUT_TASK, **TASK_OPTIONS)  # type: ignore[untyped-decorator]
    def fanout_step(fanout_id: str) -> str:
        return fanouts.step(fanout_id)


def enqueuer(app: Celery, task: str) -> Callable[[str, float], None]:
    """Send `task(id)` to the mail queue after `countdown` seconds (short ETAs only)."""

    def enqueue(item_id: str, countdown: float) -> None:
        app.send_task(
            task, args=[item_id], queue=MAIL_QUEUE, countdown=countdown or None, retry=True
        )

    return enqueue


def enqueue_send(app: Celery) -> Callable[[str, float], None]:
    return enqueuer(app, SEND_TASK)


def enqueue_fanout(app: Celery) -> Callable[[str, float], None]:
    return enqueuer(app, FANOUT_TASK)
