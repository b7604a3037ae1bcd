"""Prometheus metrics of every process, on its own `METRICS_PORT` (never a public route).

gunicorn's processes (the APIs, the gateway) answer them on a second listener of the same
server (`metrics_listener`); the others (workers, relays, the bounce receiver) serve them from
a thread (`serve_metrics`). What lives in a database or the broker is read when scraped, in
one short transaction, never on a timer (`EventMetrics`, `QueueMetrics`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from uskalla_events import Database, EventTables
from uskalla_events.redis_tls import redis_client

log = logging.getLogger(__name__)
#: Reads more metric families in the scrape's transaction (a service's own tables).
DatabaseReader = Callable[[Connection], Iterable[Metric]]
#: kombu's Redis transport keeps a queue's messages of priority p > 0 in `<queue>\x06\x16<p>`.
PRIORITY_KEYS = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def metrics_listener(app: Flask, port: int) -> None:
    """Serve the metrics, and nothing else, to connections that came in on `port` (a second
    listener of the same gunicorn, never routed from outside); the public listener answers 404
    for /metrics as for any unknown path. Which listener a request came in on is the server's
    own fact (`SERVER_PORT` of a TCP listener), looked at before anything a client sends."""
    if not port:
        return
    wsgi_app = app.wsgi_app

    def listeners(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("SERVER_PORT") != str(port):
            return wsgi_app(environ, start_response)
        if environ.get("PATH_INFO") == "/metrics":
            status, body, kind = "200 OK", generate_latest(), CONTENT_TYPE_LATEST
        else:
            status, body, kind = "404 Not Found", b"Only /metrics here.\n", "text/plain"
        start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    app.wsgi_app = listeners  # type: ignore[method-assign]


def serve_metrics(port: int, *collectors: Collector) -> None:
    """A process without an HTTP server of its own: register its `collectors` and serve
    /metrics from a thread on `port` (0: none)."""
    for collector in collectors:
        REGISTRY.register(collector)
    if port:
        start_http_server(port)


class EventMetrics(Collector):
    """The relay's view of a service's events: the age of the oldest unpublished outbox row
    (0 when none waits) and the dead letters not retried, plus what `readers` add; with
    `uskalla_metrics_database_up` 0 (and nothing else) when the database does not answer."""

    def __init__(
        self,
        service: str,
        db: Database,
        tables: EventTables,
        readers: Sequence[DatabaseReader] = (),
        timeout_ms: int = 2000,
    ) -> None:
        self.service, self.db, self.tables = service, db, tables
        self.readers = readers
        self.timeout_ms = timeout_ms

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "uskalla_metrics_database_up",
            "1 when the scrape could read the service's database",
            labels=["service"],
        )
        try:
            families = self._read()
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", type(exc).__name__)
            up.add_metric([self.service], 0)
            return [up]
        up.add_metric([self.service], 1)
        return [up, *families]

    def _read(self) -> list[Metric]:
        outbox, dead = self.tables.outbox, self.tables.dead_letters
        with self.db.engine.connect() as conn, conn.begin():
            conn.execute(text(f"SET LOCAL statement_timeout = {int(self.timeout_ms)}"))
            age = conn.scalar(
                select(func.extract("epoch", func.now() - func.min(outbox.c.created_at))).where(
                    outbox.c.published_at.is_(None)
                )
            )
            letters = conn.scalar(
                select(func.count()).select_from(dead).where(dead.c.retried_at.is_(None))
            )
            extra = [family for reader in self.readers for family in reader(conn)]
        oldest = GaugeMetricFamily(
            "uskalla_outbox_oldest_unpublished_age_seconds",
            "Seconds the oldest unpublished outbox row has waited (0: none waits)",
            labels=["service"],
        )
        oldest.add_metric([self.service], float(age or 0))
        dead_letters = GaugeMetricFamily(
            "uskalla_dead_letters", "Events a handler gave up on, not retried", labels=["service"]
        )
        dead_letters.add_metric([self.service], float(letters or 0))
        return [oldest, dead_letters, *extra]


class QueueMetrics(Collector):
    """Messages waiting in the broker, per queue of this service (every priority's list)."""

    def __init__(self, service: str, redis_url: str, queues: Sequence[str]) -> None:
        self.service, self.redis_url, self.queues = service, redis_url, list(queues)

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "uskalla_queue_length",
            "Messages waiting in a broker queue",
            labels=["service", "queue"],
        )
        client = redis_client(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in self.queues:
                for suffix in PRIORITY_KEYS:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        except redis.RedisError as exc:
            log.warning("metrics: the broker did not answer: %s", type(exc).__name__)
            return []
        finally:
            client.close()
        step = len(PRIORITY_KEYS)
        for index, queue in enumerate(self.queues):
            family.add_metric(
                [self.service, queue], float(sum(lengths[index * step : index * step + step]))
            )
        return [family]


__all__ = ["EventMetrics", "QueueMetrics", "metrics_listener", "serve_metrics"]
