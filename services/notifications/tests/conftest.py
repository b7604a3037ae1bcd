"""Notifications tests run the real service on a migrated PostgreSQL, real Redis and a real
SMTP server (aiosmtpd); Celery's queue is replaced by a list the test drains in-process."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from notifications.adapters.models import Recipient
from notifications.bootstrap import build_runtime
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import truncate_all
from uskalla_events import load_payload, new_envelope
from uskalla_kit import Runtime
from uskalla_kit.sealed import event_token_sealer

MIGRATIONS = Path(__file__).parents[1] / "src" / "notifications" / "migrations"


@dataclass
class Tasks:
    """The mail queue, in memory: what was enqueued, run when the test says so."""

    runtime: Runtime
    sends: list[tuple[str, float]] = field(default_factory=list)
    fanouts: list[tuple[str, float]] = field(default_factory=list)

    def drain(self, rounds: int = 50) -> None:
        deliveries = self.runtime.extra["services"].deliveries
        fanouts = self.runtime.extra["services"].fanouts
        for _ in range(rounds):
            if not self.sends and not self.fanouts:
                return
            sends, self.sends = self.sends, []
            steps, self.fanouts = self.fanouts, []
            for delivery_id, _ in sends:
                deliveries.send(delivery_id)
            for fanout_id, _ in steps:
                fanouts.step(fanout_id)


@dataclass
class Service:
    runtime: Runtime
    tasks: Tasks
    sink: MailSink

    def handle(self, event_type: str, data: dict[str, Any], occurred_at: str | None = None) -> str:
        """Deliver an event through the real consumer (contract check, inbox, handler); one
        that `occurred_at` some earlier moment arrives late."""
        envelope = new_envelope(load_payload(event_type, data))
        if occurred_at is not None:
            envelope = dataclasses.replace(envelope, occurred_at=occurred_at)
        assert self.runtime.events.consumer.handle(envelope)
        return envelope.id

    def seal(self, token: str) -> str:
        """A link token as members sends it: sealed with the shared key (EVENT_TOKEN_KEYS)."""
        return event_token_sealer().seal(token)

    def mails(self, to: str | None = None) -> list[dict[str, Any]]:
        return self.sink.store.messages(to)

    def add_recipient(self, **values: Any) -> uuid.UUID:
        member_id = values.pop("member_id", None) or uuid.uuid4()
        row = {
            "member_id": member_id,
            "email": f"{member_id}@example.fi",
            "name": "Maija Meikäläinen",
            "language": "fi",
            "organisation": "Espoon kaupunki",
            "municipality_code": "049",
            "newsletter": True,
            "invitations": True,
            "active": True,
        } | values
        with self.runtime.db.transaction() as session:
            session.add(Recipient(**row))
        return member_id


@pytest.fixture
def sink(tmp_path: Path, mail_sink: MailSink) -> MailSink:
    return mail_sink


@pytest.fixture
def runtime(
    service_env: dict[str, str],
    migrated_database: Callable[[str, Path], str],
    monkeypatch: pytest.MonkeyPatch,
    mail_sink: MailSink,
) -> Iterator[Runtime]:
    url = migrated_database("notifications", MIGRATIONS)
    truncate_all(url)
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", url)
    monkeypatch.setenv("SMTP_HOST", mail_sink.host)
    monkeypatch.setenv("SMTP_PORT", str(mail_sink.smtp_port))
    runtime = build_runtime()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def service(runtime: Runtime, mail_sink: MailSink) -> Service:
    tasks = Tasks(runtime)
    runtime.extra["services"].deliveries.enqueue = lambda i, c: tasks.sends.append((i, c))
    runtime.extra["services"].fanouts.enqueue = lambda i, c: tasks.fanouts.append((i, c))
    runtime.events.outbox.publish = lambda envelope: None  # nothing listens in these tests
    return Service(runtime, tasks, mail_sink)


@pytest.fixture
def client(runtime: Runtime, service: Service) -> FlaskClient:
    return runtime.create_app().test_client()


@pytest.fixture
def coordinator(
    make_token: Callable[..., str], service: Service
) -> tuple[uuid.UUID, dict[str, str]]:
    """A coordinator known to notifications (so a test copy has somewhere to go)."""
    member_id = service.add_recipient(
        email="koordinaattori@kuntaliitto.fi", name="Kaisa K", newsletter=False, invitations=False
    )
    token = make_token(str(member_id), role="coordinator")
    return member_id, {"Authorization": f"Bearer {token}"}
