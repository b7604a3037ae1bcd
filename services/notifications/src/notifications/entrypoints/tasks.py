"""Celery tasks of the notifications worker (besides the shared event task)."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from notifications.deliveries import MAIL_QUEUE, SEND_TASK, Deliveries


def register_tasks(app: Celery, deliveries: Deliveries) -> None:
    @app.task(
        name=SEND_TASK, shared=False, acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )  # type: ignore[untyped-decorator]
    def send_delivery(delivery_id: str) -> str:
        return deliveries.send(delivery_id)


def enqueue_send(app: Celery) -> Callable[[str, float], None]:
    def enqueue(delivery_id: str, countdown: float) -> None:
        app.send_task(
            SEND_TASK, args=[delivery_id], queue=MAIL_QUEUE, countdown=countdown or None, retry=True
        )

    return enqueue
