"""SMTP delivery for real: retries with backoff on 4xx and lost connections, no retry on 5xx,
suppression at send time, bounces, and a member's export and erasure."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from notifications.adapters.mailer import ConnectionMailError, Mailer
from notifications.adapters.models import EVENT_TABLES, Delivery, Recipient, Suppression
from sqlalchemy import select, text, update
from uskalla_devstack.servers import free_port
from uskalla_mailsink import MailStore

from .conftest import Service


@dataclass
class Refusing:
    """An SMTP server that refuses RCPT with `code` for the first `times` tries, then accepts."""

    store: MailStore
    code: int = 451
    times: int = 0
    refused: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if len(self.refused) < self.times:
            self.refused.append(address)
            return (
                f"{self.code} 4.7.1 try later"
                if self.code < 500
                else f"{self.code} 5.1.1 no such user"
            )
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.store.save(envelope.original_content or envelope.content, list(envelope.rcpt_tos))
        return "250 Message accepted"


@pytest.fixture
def refusing(tmp_path: Path, service: Service) -> Iterator[Refusing]:
    handler = Refusing(MailStore(tmp_path / "refusing"))
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings = service.runtime.extra["settings"]
    settings.smtp_port = controller.port
    yield handler
    controller.stop()


@pytest.fixture(params=["one command at a time", "pipelined"])
def pipelining(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each case twice: command by command, and with MAIL, RCPT and DATA in one write as to a
    server that offers PIPELINING (aiosmtpd reads them in order; it just does not say so)."""
    if request.param == "pipelined":
        offers = smtplib.SMTP.has_extn

        def has_extn(self: smtplib.SMTP, name: str) -> bool:
            return name.lower() == "pipelining" or offers(self, name)

        monkeypatch.setattr(smtplib.SMTP, "has_extn", has_extn)
    return str(request.param)


def sign_in(service: Service, to: str) -> None:
    service.handle(
        "members.sign_in.requested.v1",
        {
            "member_id": str(uuid.uuid4()),
            "email": to,
            "name": "M",
            "language": "fi",
            "token": service.seal("t"),
        },
    )


def delivery(service: Service, to: str) -> Delivery:
    with service.runtime.db.transaction() as session:
        row = session.scalars(select(Delivery).where(Delivery.email == to)).one()
        session.expunge(row)
        return row


def make_due(service: Service) -> None:
    with service.runtime.db.transaction() as session:
        session.execute(update(Delivery).values(next_attempt_at=None))


def test_451_is_retried_with_backoff_and_arrives_later(
    service: Service, refusing: Refusing, pipelining: str
) -> None:
    refusing.code, refusing.times = 451, 2
    sign_in(service, "later@example.fi")
    service.tasks.drain(rounds=1)
    first = delivery(service, "later@example.fi")
    assert (first.status, first.attempts) == ("retrying", 1)
    assert first.error and first.error.startswith("451")
    [(_, delay)] = service.tasks.sends
    assert delay == 5.0  # then 10, 20, ... capped at ten minutes
    assert service.runtime.extra["services"].deliveries.send(str(first.id)) == "not_due"
    make_due(service)
    service.tasks.drain(rounds=1)
    assert delivery(service, "later@example.fi").attempts == 2
    assert service.tasks.sends[0][1] == 10.0
    make_due(service)
    service.tasks.drain()
    done = delivery(service, "later@example.fi")
    assert (done.status, done.attempts, done.error) == ("sent", 3, None)
    assert len(refusing.store.messages("later@example.fi")) == 1


def test_550_fails_at_once_without_retries(
    service: Service, refusing: Refusing, pipelining: str
) -> None:
    refusing.code, refusing.times = 550, 10
    sign_in(service, "nobody@example.fi")
    service.tasks.drain()
    failed = delivery(service, "nobody@example.fi")
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.error and failed.error.startswith("550")
    assert service.tasks.sends == [] and len(refusing.refused) == 1


def test_list_mail_550_fails_that_row_and_the_rest_go(
    service: Service,
    refusing: Refusing,
    client: FlaskClient,
    coordinator: tuple,
    pipelining: str,
) -> None:
    for _ in range(4):
        service.add_recipient()
    refusing.code, refusing.times = 550, 1
    draft = client.post(
        "/api/v1/newsletters", json={"subject": "S", "body": "B"}, headers=coordinator[1]
    ).json
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    service.tasks.drain()
    progress = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json
    assert progress["progress"]["sent"] == 3 and progress["progress"]["failed"] == 1
    assert progress["status"] == "sent"
    assert len(refusing.store.messages()) == 3


def test_unreachable_server_is_temporary(service: Service) -> None:
    settings = service.runtime.extra["settings"]
    settings.smtp_port = free_port()  # nobody listens
    with pytest.raises(ConnectionMailError), Mailer(settings) as mailer:
        from email.message import EmailMessage

        message = EmailMessage()
        message["From"], message["To"] = "a@example.fi", "b@example.fi"
        mailer.send(message)
    sign_in(service, "offline@example.fi")
    service.tasks.drain(rounds=1)
    assert delivery(service, "offline@example.fi").status == "retrying"


def test_suppressed_addresses_are_never_mailed(
    service: Service, client: FlaskClient, coordinator: tuple
) -> None:
    sign_in(service, "gone@example.fi")  # scheduled before the bounce arrives
    answer = client.post(
        "/api/v1/bounces",
        json={
            "email": "Gone@Example.fi",
            "kind": "hard",
            "reason": "550 <gone@example.fi> unknown",
        },
        headers=coordinator[1],
    )
    assert answer.status_code == 200
    assert answer.json == {
        "email": "gone@example.fi",
        "kind": "hard",
        "suppressed": True,
        "soft_bounces": 0,
        "hard_bounces": 1,
    }
    service.tasks.drain()
    assert service.mails("gone@example.fi") == []
    assert delivery(service, "gone@example.fi").status == "suppressed"
    with service.runtime.db.transaction() as session:
        [event] = session.execute(select(EVENT_TABLES.outbox.c.envelope)).scalars().all()
        reason = session.scalars(select(Suppression.last_reason)).one()
    assert event["type"] == "notifications.address.bounced.v1"
    assert event["data"]["email"] == "gone@example.fi"
    assert "gone@example.fi" not in reason and "<address>" in reason


def test_soft_bounces_are_counted_and_the_internal_token_works(
    service: Service, client: FlaskClient
) -> None:
    headers = {"X-Internal-Token": "test-internal-token"}
    for expected in (1, 2):
        answer = client.post(
            "/api/v1/bounces", json={"email": "soft@example.fi", "kind": "soft"}, headers=headers
        )
        assert answer.status_code == 200
        assert answer.json["soft_bounces"] == expected and not answer.json["suppressed"]
    assert (
        client.post(
            "/api/v1/bounces",
            json={"email": "soft@example.fi", "kind": "soft"},
            headers={"X-Internal-Token": "x"},
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/bounces", json={"email": "x", "kind": "medium"}, headers=headers
        ).status_code
        == 422
    )
    sign_in(service, "soft@example.fi")
    service.tasks.drain()
    assert len(service.mails("soft@example.fi")) == 1  # soft bounces do not suppress
    with service.runtime.db.transaction() as session:
        assert session.execute(select(EVENT_TABLES.outbox)).all() == []


def test_export_and_erasure(service: Service, client: FlaskClient, coordinator: tuple) -> None:
    member = service.add_recipient(email="erase.me@example.fi", name="Erkki Esimerkki")
    sign_in_data = {
        "member_id": str(member),
        "email": "erase.me@example.fi",
        "name": "Erkki Esimerkki",
        "language": "fi",
        "token": service.seal("t"),
    }
    service.handle("members.sign_in.requested.v1", sign_in_data)
    service.tasks.drain()
    client.post(
        "/api/v1/bounces",
        json={"email": "erase.me@example.fi", "kind": "hard"},
        headers=coordinator[1],
    )
    with service.runtime.db.transaction() as session:  # a dead letter that names the member
        session.execute(
            EVENT_TABLES.dead_letters.insert().values(
                event_id=uuid.uuid4(),
                type="members.sign_in.requested.v1",
                envelope={"data": sign_in_data},
                error="x",
                attempts=1,
            )
        )
    internal = {"X-Internal-Token": "test-internal-token"}
    assert client.get(f"/internal/v1/members/{member}/export").status_code == 401
    exported = client.get(f"/internal/v1/members/{member}/export", headers=internal).json
    assert exported["recipient"]["email"] == "erase.me@example.fi"
    assert [d["kind"] for d in exported["deliveries"]] == ["sign_in"]
    assert exported["bounces"][0]["hard_bounces"] == 1

    service.handle("members.member.erased.v1", {"member_id": str(member)})
    with service.runtime.db.transaction() as session:
        assert session.get(Recipient, member) is None
        dump = " ".join(
            str(row)
            for table in (
                "deliveries",
                "recipients",
                "event_outbox",
                "event_dead_letters",
                "suppressions",
            )
            for row in session.execute(text(f"SELECT * FROM {table}")).all()
        ).lower()
    assert "erase.me@example.fi" not in dump and "erkki" not in dump
    assert (
        client.get(f"/internal/v1/members/{member}/export", headers=internal).json["deliveries"]
        == []
    )
    # The address stays suppressed (by its hash) if it is given again.
    sign_in(service, "erase.me@example.fi")
    service.tasks.drain()
    assert len(service.mails("erase.me@example.fi")) == 1  # only the mail from before erasure
