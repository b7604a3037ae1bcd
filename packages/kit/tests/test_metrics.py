"""What the processes export: gauges read from a real PostgreSQL and Redis when scraped, and the
metrics listener that only a second port reaches."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator

import pytest
import redis
from flask import Flask
from prometheus_client.core import Metric
from sqlalchemy import MetaData, text
from uskalla_events import Database, event_tables
from uskalla_events.tables import NAMING_CONVENTION, create_event_tables
from uskalla_kit.metrics import EventMetrics, QueueMetrics, metrics_listener


def samples(metrics: Iterable[Metric]) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s.name, tuple(s.labels.values())): s.value for m in metrics for s in m.samples}


@pytest.fixture
def database(make_database: Callable[[str], str]) -> Iterator[Database]:
    url = make_database("kit_metrics").replace("postgresql://", "postgresql+psycopg://", 1)
    db = Database(url)
    with db.engine.begin() as conn:
        create_event_tables(conn)
    yield db
    db.dispose()


def test_the_relay_reads_the_outbox_lag_and_the_dead_letters(database: Database) -> None:
    tables = event_tables(MetaData(naming_convention=NAMING_CONVENTION))
    collector = EventMetrics("members", database, tables)
    assert samples(collector.collect()) == {
        ("uskalla_metrics_database_up", ("members",)): 1,
        ("uskalla_outbox_oldest_unpublished_age_seconds", ("members",)): 0,
        ("uskalla_dead_letters", ("members",)): 0,
    }
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO event_outbox (id, type, envelope, created_at) VALUES"
                " (:id, 't', '{}', now() - interval '1 minute'), (:other, 't', '{}', now())"
            ),
            {"id": uuid.uuid4(), "other": uuid.uuid4()},
        )
        conn.execute(
            text(
                "INSERT INTO event_dead_letters (event_id, type, envelope, error, attempts)"
                " VALUES (:id, 't', '{}', 'e', 8), (:id, 't', '{}', 'e', 8)"
            ),
            {"id": uuid.uuid4()},
        )
        conn.execute(text("UPDATE event_dead_letters SET retried_at = now() WHERE id = 1"))
    read = samples(collector.collect())
    assert 60 <= read[("uskalla_outbox_oldest_unpublished_age_seconds", ("members",))] < 120
    assert read[("uskalla_dead_letters", ("members",))] == 1


def test_a_database_that_does_not_answer_reads_as_down() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    tables = event_tables(MetaData(naming_convention=NAMING_CONVENTION))
    assert samples(EventMetrics("members", db, tables).collect()) == {
        ("uskalla_metrics_database_up", ("members",)): 0
    }


def test_queue_length_counts_every_priority_list(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.rpush("notifications.mail", "a", "b")
    client.rpush("notifications.mail\x06\x169", "c")
    client.close()
    collector = QueueMetrics("notifications", redis_url, ["notifications.mail", "other"])
    assert samples(collector.collect()) == {
        ("uskalla_queue_length", ("notifications", "notifications.mail")): 3,
        ("uskalla_queue_length", ("notifications", "other")): 0,
    }
    assert list(QueueMetrics("x", "redis://127.0.0.1:1/0", ["q"]).collect()) == []


def test_only_the_metrics_port_answers_metrics() -> None:
    app = Flask("t")

    @app.get("/metrics")
    def public() -> str:
        return "the app's own"

    metrics_listener(app, 9464)
    client = app.test_client()
    assert client.get("/metrics").text == "the app's own"
    scraped = client.get("/metrics", base_url="http://127.0.0.1:9464")
    assert scraped.status_code == 200 and "python_info" in scraped.text
    assert client.get("/healthz", base_url="http://127.0.0.1:9464").status_code == 404
