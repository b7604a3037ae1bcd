"""Every process of the running stack serves Prometheus metrics on its own METRICS_PORT: the
series the alerts and the dashboard name, with values that follow what the databases hold."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.stack import BOUNCES, SERVICES, Stack

from .journey import join, wait_for_mail

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack, process: str) -> Samples:
    answer = requests.get(stack.metrics_url(process), timeout=10)
    assert answer.status_code == 200, (process, answer.text)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def connect(stack: Stack, service: str) -> psycopg.Connection:  # type: ignore[type-arg]
    url = stack.env[f"{service.upper()}_DATABASE_URL"]
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def test_every_process_serves_metrics_on_its_own_port(
    running_stack: tuple[Stack, MailSink],
) -> None:
    stack, sink = running_stack
    assert join(stack.gateway_url, "metrics@example.fi").status_code == 202
    wait_for_mail(sink, "metrics@example.fi", "Vahvista")

    for service in SERVICES:
        api = scrape(stack, f"{service}-api")
        assert any(
            name == "http_requests_total" and ("service", service) in labels for name, labels in api
        ), service
        # The public port has none: only the metrics port answers them.
        assert requests.get(f"{stack.service_url(service)}/metrics", timeout=5).status_code == 404
        relay = scrape(stack, f"{service}-relay")
        assert value(relay, "uskalla_outbox_oldest_unpublished_age_seconds", service=service) == 0
        assert value(relay, "uskalla_dead_letters", service=service) == 0
        assert value(relay, "uskalla_metrics_database_up", service=service) == 1
    gateway = scrape(stack, "gateway")
    assert any(("service", "gateway") in labels for _, labels in gateway)
    assert requests.get(f"{stack.gateway_url}/metrics", timeout=5).status_code == 404

    # Workers: their queues' depth (drained: 0) and the tasks they ran.
    worker = scrape(stack, "notifications-worker")
    for queue in ("notifications.mail", "notifications.events"):
        assert value(worker, "uskalla_queue_length", service="notifications", queue=queue) == 0
    assert (value(worker, "uskalla_tasks_total", task="uskalla.event", state="SUCCESS") or 0) >= 1
    members_worker = scrape(stack, "members-worker")
    assert (
        value(members_worker, "uskalla_queue_length", service="members", queue="members.events")
        == 0
    )

    # Notifications' relay: the confirmation went out; the bounce receiver counts by outcome.
    relay = scrape(stack, "notifications-relay")
    assert (value(relay, "uskalla_deliveries_total", status="sent") or 0) >= 1
    assert value(relay, "uskalla_deliveries_total", status="bounced") == 0
    bounces = scrape(stack, BOUNCES)
    assert value(bounces, "uskalla_bounce_messages_total", outcome="hard") == 0


def test_database_gauges_follow_the_rows(running_stack: tuple[Stack, MailSink]) -> None:
    """A row the relay cannot publish ages; a dead letter counts until retried; a newsletter
    being sent shows its progress."""
    stack, _ = running_stack
    stuck, letter = uuid.uuid4(), uuid.uuid4()
    newsletter, delivery = uuid.uuid4(), uuid.uuid4()
    with connect(stack, "members") as conn:
        # An envelope without a type: every publish of it fails, so it stays unpublished.
        conn.execute(
            "INSERT INTO event_outbox (id, type, envelope, created_at)"
            " VALUES (%s, 'test.stuck.v1', '{}', now() - interval '90 seconds')",
            (stuck,),
        )
        try:
            age = wait_until(
                lambda: value(
                    scrape(stack, "members-relay"),
                    "uskalla_outbox_oldest_unpublished_age_seconds",
                    service="members",
                ),
                message="the outbox's age",
            )
            assert 90 <= age < 600
        finally:
            conn.execute("DELETE FROM event_outbox WHERE id = %s", (stuck,))
        assert (
            value(
                scrape(stack, "members-relay"),
                "uskalla_outbox_oldest_unpublished_age_seconds",
                service="members",
            )
            == 0
        )
    with connect(stack, "experiments") as conn:
        conn.execute(
            "INSERT INTO event_dead_letters (event_id, type, envelope, error, attempts)"
            " VALUES (%s, 'test.dead.v1', '{}', 'TemporaryFailure', 8)",
            (letter,),
        )
        relay = scrape(stack, "experiments-relay")
        assert value(relay, "uskalla_dead_letters", service="experiments") == 1
        conn.execute(
            "UPDATE event_dead_letters SET retried_at = now() WHERE event_id = %s", (letter,)
        )
        relay = scrape(stack, "experiments-relay")
        assert value(relay, "uskalla_dead_letters", service="experiments") == 0
    with connect(stack, "notifications") as conn:
        conn.execute(
            "INSERT INTO newsletters (id, subject, body, language, municipality_codes, themes,"
            " status, updated_at) VALUES (%s, 'Uutiskirje', 'Hei', 'all', '[]', '[]', 'sending',"
            " now())",
            (newsletter,),
        )
        conn.execute(
            "INSERT INTO deliveries (id, kind, email, language, cause, context, status, attempts,"
            " message_id) VALUES (%s, 'newsletter', 'reader@example.fi', 'fi', %s, '{}', 'sent',"
            " 1, '<metrics@uskalla.test>')",
            (delivery, str(newsletter)),
        )
        try:
            relay = scrape(stack, "notifications-relay")
            progress = {
                name: value(
                    relay,
                    "uskalla_newsletter_deliveries",
                    newsletter=str(newsletter),
                    progress=name,
                )
                for name in ("recipients", "sent", "pending")
            }
            assert progress == {"recipients": 1, "sent": 1, "pending": 0}
        finally:
            conn.execute("DELETE FROM deliveries WHERE id = %s", (delivery,))
            conn.execute("DELETE FROM newsletters WHERE id = %s", (newsletter,))
