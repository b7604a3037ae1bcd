"""Assemble the members service: settings, database, events, app, relay jobs."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from uskalla_events import Database, EventHandlers, EventSystem
from uskalla_kit import Runtime, base_app

from members.adapters.models import EVENT_TABLES
from members.config import Settings
from members.entrypoints.handlers import register_handlers
from members.service_layer import Services
from members.service_layer.housekeeping import housekeeping_job, intake_job
from members.service_layer.intake import INTAKE_CHANNEL


def build_app(runtime: Runtime) -> Flask:
    from members.entrypoints.http import register

    app = base_app(runtime)
    register(app, runtime.extra["settings"])
    return app


def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings.from_env()
    common = settings.common
    db = Database(common.database_url)
    handlers = EventHandlers("members")
    events = EventSystem(
        "members",
        db,
        EVENT_TABLES,
        handlers,
        common.redis_url,
        visibility_timeout=common.visibility_timeout,
        redeliver_after=common.redeliver_after,
    )
    services = Services.build(settings, events)
    register_handlers(handlers, services)
    runtime = Runtime(
        settings=common,
        db=db,
        events=events,
        migrations=Path(__file__).parent / "migrations",
        build_app=build_app,
        relay_jobs=[
            intake_job(db, services),
            housekeeping_job(db, services, settings.housekeeping_interval),
        ],
        relay_wake_channels=(INTAKE_CHANNEL,),
    )
    runtime.extra["settings"] = settings
    runtime.extra["services"] = services
    return runtime
