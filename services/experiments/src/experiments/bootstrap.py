"""Assemble the experiments service: settings, database, events, app."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from uskalla_events import Database, EventHandlers, EventSystem
from uskalla_kit import Problem, Runtime, base_app, current_identity
from uskalla_kit.auth import check_standing
from uskalla_kit.ratelimit import client_address, make_limiter

from experiments.adapters.models import EVENT_TABLES
from experiments.config import Settings
from experiments.entrypoints.handlers import register_handlers
from experiments.service_layer import Services


def member_key() -> str:
    """Rate-limit key: the signed-in member, else (the request will be refused) the address."""
    try:
        identity = current_identity()
    except Problem:
        identity = None
    return f"member:{identity.member_id}" if identity else f"address:{client_address()}"


def build_app(runtime: Runtime) -> Flask:
    from experiments.entrypoints import (
        caller,
        http_comments,
        http_experiments,
        http_follows,
        http_internal,
        http_opendata,
    )

    settings: Settings = runtime.extra["settings"]
    app = base_app(runtime)
    # A demotion, deactivation or erasure counts from the moment its event is handled here.
    check_standing(app, caller.standing)
    for module in (http_experiments, http_opendata, http_comments, http_follows, http_internal):
        app.register_blueprint(module.bp)
    limiter = make_limiter(app, runtime.settings.redis_url)
    endpoint = http_comments.POST_ENDPOINT
    app.view_functions[endpoint] = limiter.limit(  # type: ignore[assignment]
        settings.comment_rate_limit, key_func=member_key, scope="comments"
    )(app.view_functions[endpoint])
    return app


def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings.from_env()
    common = settings.common
    db = Database(common.database_url)
    handlers = EventHandlers("experiments")
    register_handlers(handlers, EVENT_TABLES)
    events = EventSystem(
        "experiments",
        db,
        EVENT_TABLES,
        handlers,
        common.redis_url,
        visibility_timeout=common.visibility_timeout,
        redeliver_after=common.redeliver_after,
    )
    runtime = Runtime(
        settings=common,
        db=db,
        events=events,
        migrations=Path(__file__).parent / "migrations",
        build_app=build_app,
    )
    runtime.extra["settings"] = settings
    runtime.extra["services"] = Services.build(settings, events)
    return runtime
