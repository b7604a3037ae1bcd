"""The delivery log is purged after DELIVERY_RETENTION_DAYS, bounce rows and kept bounce mail
after BOUNCE_RETENTION_DAYS, in batches, by the relay's job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notifications.adapters.models import Bounce, BounceMail, Delivery
from notifications.service_layer.retention import purge_bounces, purge_deliveries
from sqlalchemy import func, select

from .conftest import Service


def add_deliveries(service: Service, days_old: float, count: int, status: str = "sent") -> None:
    created = datetime.now(UTC) - timedelta(days=days_old)
    with service.runtime.db.transaction() as session:
        for _ in range(count):
            session.add(
                Delivery(
                    id=uuid.uuid4(),
                    kind="sign_in",
                    member_id=uuid.uuid4(),
                    email=f"{uuid.uuid4()}@example.fi",
                    language="fi",
                    cause=str(uuid.uuid4()),
                    context={"name": "N"},
                    status=status,
                    attempts=1,
                    message_id=f"<{uuid.uuid4()}@uskalla.test>",
                    created_at=created,
                )
            )


def ages(service: Service) -> list[int]:
    with service.runtime.db.transaction() as session:
        return sorted(
            (datetime.now(UTC) - created).days
            for created in session.scalars(select(Delivery.created_at)).all()
        )


def test_the_relay_purges_deliveries_older_than_the_retention(service: Service) -> None:
    assert service.runtime.extra["settings"].delivery_retention_days == 365  # the default
    add_deliveries(service, 366, 3)
    add_deliveries(service, 900, 2, status="failed")
    add_deliveries(service, 364, 2)
    add_deliveries(service, 0, 1, status="pending")
    *_, job = service.runtime.relay_jobs
    assert job() == 5
    assert ages(service) == [0, 364, 364]
    add_deliveries(service, 400, 1)
    assert job() == 0  # not again before HOUSEKEEPING_INTERVAL_SECONDS
    assert len(ages(service)) == 4


def test_a_shorter_retention_is_configured_and_the_purge_goes_in_batches(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_RETENTION_DAYS", "30")
    from notifications.config import Settings

    assert Settings.from_env().delivery_retention_days == 30
    add_deliveries(service, 31, 7)
    add_deliveries(service, 29, 2)
    cutoff = datetime.now(UTC) - timedelta(days=30)
    assert purge_deliveries(service.runtime.db, cutoff, batch_size=3) == 7
    with service.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 2


def add_bounces(service: Service, days_old: float, count: int) -> None:
    received = datetime.now(UTC) - timedelta(days=days_old)
    with service.runtime.db.transaction() as session:
        for n in range(count):
            session.add(
                Bounce(email_hash=f"{n:064x}", kind="soft", source="dsn", received_at=received)
            )
            session.add(
                BounceMail(
                    mail_from="mailer-daemon@example.fi",
                    rcpt_to="postmaster@bounces.uskalla.fi",
                    note="not a bounce",
                    raw=b"To: maija@example.fi\r\n\r\nhi\r\n",
                    received_at=received,
                )
            )


def bounce_ages(service: Service) -> tuple[list[int], list[int]]:
    now = datetime.now(UTC)
    with service.runtime.db.transaction() as session:
        return (
            sorted((now - at).days for at in session.scalars(select(Bounce.received_at))),
            sorted((now - at).days for at in session.scalars(select(BounceMail.received_at))),
        )


def test_the_relay_purges_bounces_and_kept_mail_older_than_their_retention(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert service.runtime.extra["settings"].bounce_retention_days == 90  # the default
    add_bounces(service, 91, 2)
    add_bounces(service, 59, 1)
    *_, job = service.runtime.relay_jobs
    assert job() == 4
    assert bounce_ages(service) == ([59], [59])
    monkeypatch.setenv("BOUNCE_RETENTION_DAYS", "5")  # never below the soft-bounce window
    from notifications.config import Settings

    assert Settings.from_env().bounce_retention_days == 31
    monkeypatch.setenv("BOUNCE_RETENTION_DAYS", "60")
    assert Settings.from_env().bounce_retention_days == 60
    add_bounces(service, 61, 5)
    assert purge_bounces(service.runtime.db, datetime.now(UTC) - timedelta(days=60), 2) == 10
    assert bounce_ages(service) == ([59], [59])
