"""Assemble the experiments service: settings, database, events, app."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from uskalla_events import Database, EventHandlers, EventSystem
from uskalla_kit import Runtime, base_app

from experiments.adapters.models import EVENT_TABLES
from experiments.config import Settings
from experiments.entrypoints.handlers import register_handlers


def build_app(runtime: Runtime) -> Flask:
    app = base_app(runtime)
    return app


def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings.from_env()
    common = settings.common
    db = Database(common.database_url)
    handlers = EventHandlers("experiments")
    register_handlers(handlers)
    events = EventSystem(
        "experiments",
        db,
        EVENT_TABLES,
        handlers,
        common.redis_url,
        visibility_timeout=common.visibility_timeout,
    )
    runtime = Runtime(
        settings=common,
        db=db,
        events=events,
        migrations=Path(__file__).parent / "migrations",
        build_app=build_app,
    )
    runtime.extra["settings"] = settings
    return runtime
