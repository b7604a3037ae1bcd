"""Assemble the notifications service: settings, database, events, deliveries, app."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from kombu import Exchange, Queue
from uskalla_events import Database, EventHandlers, EventSystem
from uskalla_kit import Runtime, base_app
from uskalla_kit.auth import check_standing

from notifications.adapters.models import EVENT_TABLES
from notifications.config import Settings
from notifications.entrypoints.handlers import register_handlers
from notifications.entrypoints.tasks import enqueue_fanout, enqueue_send, register_tasks
from notifications.service_layer import Services, metrics
from notifications.service_layer.deliveries import MAIL_QUEUE
from notifications.service_layer.retention import retention_job
from notifications.service_layer.standing import standing_lookup


def build_app(runtime: Runtime) -> Flask:
    from notifications.entrypoints.http import bp, internal

    app = base_app(runtime)
    check_standing(app, standing_lookup(runtime.db))
    app.register_blueprint(bp)
    app.register_blueprint(internal)
    return app


def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings.from_env()
    common = settings.common
    db = Database(common.database_url)
    mail_queue = Queue(
        MAIL_QUEUE, Exchange(MAIL_QUEUE, type="direct"), routing_key=MAIL_QUEUE, durable=True
    )
    handlers = EventHandlers("notifications")
    events = EventSystem(
        "notifications",
        db,
        EVENT_TABLES,
        handlers,
        common.redis_url,
        visibility_timeout=common.visibility_timeout,
        redeliver_after=common.redeliver_after,
        extra_queues=[mail_queue],
    )
    services = Services.build(
        settings, db, enqueue_send(events.celery), enqueue_fanout(events.celery), events
    )
    register_tasks(events.celery, services)
    register_handlers(handlers, services)
    runtime = Runtime(
        settings=common,
        db=db,
        events=events,
        migrations=Path(__file__).parent / "migrations",
        build_app=build_app,
        relay_jobs=[
            services.deliveries.sweep,
            services.fanouts.sweep,
            services.reminders.remind,
            services.newsletters.start_due,
            services.follows.send_due,
            services.digests.run,
            retention_job(db, settings),
        ],
        metric_readers=[metrics.deliveries, metrics.newsletters],
    )
    runtime.extra.update(settings=settings, services=services)
    return runtime
