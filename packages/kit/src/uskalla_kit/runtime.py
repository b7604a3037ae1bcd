"""What every service is made of at run time, and the Flask app skeleton they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import text
from uskalla_events import Database, EventSystem
from uskalla_events.redis_tls import redis_client

from uskalla_kit import auth, health, internal, openapi, problems, requestid
from uskalla_kit.metrics import DatabaseReader, metrics_listener
from uskalla_kit.settings import env, env_int, env_secret


@dataclass
class CommonSettings:
    """Settings every service reads the same way."""

    service: str
    database_url: str
    redis_url: str
    public_base_url: str
    jwt_public_key: str
    jwt_issuer: str
    jwt_audience: str
    max_body_bytes: int
    visibility_timeout: int
    relay_interval: float
    redeliver_after: float
    log_level: str
    internal_token: str
    #: Where this process serves Prometheus metrics (0: nowhere); each process its own.
    metrics_port: int = 0

    @classmethod
    def from_env(cls, service: str, database_env: str) -> CommonSettings:
        from uskalla_kit.settings import database_url, env_float

        return cls(
            service=service,
            database_url=database_url(database_env),
            redis_url=env("REDIS_URL", dev_default="redis://127.0.0.1:6379/0"),
            public_base_url=env("PUBLIC_BASE_URL", dev_default="http://127.0.0.1:8080").rstrip("/"),
            jwt_public_key=env_secret("JWT_PUBLIC_KEY") or "",
            jwt_issuer=env("JWT_ISSUER", "uskalla-members"),
            jwt_audience=env("JWT_AUDIENCE", "uskalla"),
            max_body_bytes=env_int("MAX_BODY_BYTES", 256 * 1024),
            visibility_timeout=env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
            relay_interval=env_float("RELAY_INTERVAL", 1.0),
            redeliver_after=env_float("EVENT_REDELIVER_AFTER", 30.0),
            log_level=env("LOG_LEVEL", "INFO"),
            internal_token=env_secret("INTERNAL_API_TOKEN", dev_default="dev-internal-token") or "",
            metrics_port=env_int("METRICS_PORT", 0),
        )


@dataclass
class Runtime:
    """A service assembled: settings, its own database, its event system and its app factory."""

    settings: CommonSettings
    db: Database
    events: EventSystem
    migrations: Path
    build_app: Callable[[Runtime], Flask]
    relay_jobs: list[Callable[[], Any]] = field(default_factory=list)
    #: PostgreSQL channels whose notifications wake the relay at once (see `Relay.listen`).
    relay_wake_channels: tuple[str, ...] = ()
    #: The service's own metric families, read in the relay's scrape (`metrics.EventMetrics`).
    metric_readers: list[DatabaseReader] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.settings.service

    def create_app(self) -> Flask:
        return self.build_app(self)


def make_app(
    name: str,
    *,
    max_body_bytes: int,
    verifier: auth.TokenVerifier,
    checks: dict[str, health.Check],
) -> Flask:
    """A Flask app with problem+json errors, request ids, health, metrics and token checks."""
    app = Flask(name)
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    problems.init_app(app)
    requestid.init_app(app)
    auth.init_app(app, verifier)
    health.init_app(app, name, checks)
    openapi.init_app(app, f"Uskalla {name} API")
    return app


def redis_check(url: str) -> health.Check:
    def broker() -> None:
        client = redis_client(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()

    return broker


def base_app(runtime: Runtime) -> Flask:
    """The app skeleton of a service with its own database and broker."""
    settings = runtime.settings

    def database() -> None:
        with runtime.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    app = make_app(
        runtime.name,
        max_body_bytes=settings.max_body_bytes,
        verifier=auth.TokenVerifier(
            settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        ),
        checks={"database": database, "broker": redis_check(settings.redis_url)},
    )
    app.extensions["uskalla.runtime"] = runtime
    internal.init_app(app, settings.internal_token)
    metrics_listener(app, settings.metrics_port)
    return app


def runtime_of(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["uskalla.runtime"]
    return runtime


def current_runtime() -> Runtime:
    """The runtime of the app handling the current request."""
    return runtime_of(current_app)
