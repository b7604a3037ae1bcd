"""Assemble the members service: settings, database, events, app."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from uskalla_events import Database, EventHandlers, EventSystem
from uskalla_kit import Runtime, base_app

from members.adapters.models import EVENT_TABLES
from members.config import Settings
from members.entrypoints.handlers import register_handlers
from members.service import MembersService


def build_app(runtime: Runtime) -> Flask:
    from members.entrypoints.http import bp

    app = base_app(runtime)
    app.register_blueprint(bp)
    return app


def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings.from_env()
    common = settings.common
    db = Database(common.database_url)
    handlers = EventHandlers("members")
    register_handlers(handlers)
    events = EventSystem(
        "members",
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
    runtime.extra["service"] = MembersService(settings, events)
    return runtime
