"""Mail that looks after its bounces, for real: each message leaves from its own signed VERP
address; DSNs in real MTAs' formats and an ARF complaint sent over SMTP to the bounce receiver
suppress the address or turn the member's lists off; refusals at send time count; DKIM."""

from __future__ import annotations

import base64
import smtplib
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path

import dkim
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from notifications.adapters.bounce_reports import read_report
from notifications.adapters.models import (
    EVENT_TABLES,
    Bounce,
    BounceMail,
    Delivery,
    Recipient,
    Suppression,
)
from notifications.domain.verp import Verp
from notifications.entrypoints.bounce_server import bounce_server
from notifications.service_layer.suppressions import email_hash, is_suppressed
from sqlalchemy import select, update
from uskalla_devstack.servers import free_port

from . import test_delivery
from .conftest import Service
from .test_delivery import Refusing

SAMPLES = Path(__file__).parent / "bounces"
refusing = test_delivery.refusing  # the fixture: an SMTP server that refuses, then accepts


def sample(name: str, verp: str, rcpt: str, bounce_domain: str = "bounces.uskalla.fi") -> bytes:
    text = (SAMPLES / name).read_text()
    text = text.replace("{verp}", verp).replace("{rcpt}", rcpt)
    return text.replace("{bounce_domain}", bounce_domain).replace("\n", "\r\n").encode()


@pytest.fixture
def bounces(service: Service) -> Iterator[Controller]:
    """The bounce receiver on a port of its own, as `notifications bounces` runs it."""
    server = bounce_server(
        service.runtime.extra["services"].bounces, "127.0.0.1", free_port(), 100_000
    )
    server.start()
    yield server
    server.stop()


def send_to(server: Controller, rcpt: str, raw: bytes) -> None:
    with smtplib.SMTP(server.hostname, server.port) as smtp:
        smtp.sendmail("", [rcpt], raw)


def welcome(service: Service, email: str, member_id: uuid.UUID | None = None) -> Delivery:
    """Mail one welcome and return its delivery (sent to the sink)."""
    deliveries = service.runtime.extra["services"].deliveries
    with service.runtime.db.transaction() as session:
        delivery_id = deliveries.schedule(
            session,
            kind="welcome",
            email=email,
            language="fi",
            cause=str(uuid.uuid4()),
            context={"name": "Maija"},
            member_id=member_id,
        )
    service.tasks.drain()
    with service.runtime.db.transaction() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        session.expunge(row)
        return row


def return_path(service: Service, email: str) -> str:
    [mail] = service.mails(email)
    return mail["headers"]["Return-Path"].strip("<>")


def suppression(service: Service, email: str) -> Suppression | None:
    with service.runtime.db.transaction() as session:
        row = session.get(Suppression, email_hash(email))
        if row is not None:
            session.expunge(row)
        return row


def outbox_types(service: Service) -> list[str]:
    with service.runtime.db.transaction() as session:
        outbox = EVENT_TABLES.outbox
        # In the order written: a relay's update may move a row in the heap.
        rows = session.scalars(select(outbox.c.envelope).order_by(outbox.c.created_at))
        return [e["type"] for e in rows]


def test_verp_addresses_are_signed_and_name_the_delivery() -> None:
    verp = Verp(b"k" * 32, "Bounces.Uskalla.fi")
    delivery_id = uuid.uuid4()
    address = verp.address(delivery_id)
    assert address.endswith("@bounces.uskalla.fi") and len(address.split("@")[0]) <= 64
    assert verp.read(address) == delivery_id
    assert verp.read(f"<{address.upper()}>") == delivery_id  # case folded on the way
    forged = address.replace(delivery_id.hex, uuid.uuid4().hex)
    assert verp.read(forged) is None
    assert Verp(b"x" * 32, "bounces.uskalla.fi").read(address) is None  # another key
    assert verp.read(address.replace("bounces.uskalla.fi", "example.fi")) is None


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("postfix_hard.eml", "hard"),
        ("exim_hard.eml", "hard"),
        ("qmail_hard.eml", "hard"),
        ("postfix_delayed.eml", "soft"),
        ("exchange_mailbox_full.eml", "soft"),
        ("arf_complaint.eml", "complaint"),
        ("autoreply.eml", None),
    ],
)
def test_reports_in_real_formats_are_read(name: str, kind: str | None) -> None:
    report = read_report(sample(name, "b-1@bounces.uskalla.fi", "maija@example.fi"))
    assert report.kind == kind
    assert "maija@example.fi" not in report.senders


@pytest.mark.parametrize("name", ["postfix_hard.eml", "exim_hard.eml", "qmail_hard.eml"])
def test_a_hard_bounce_over_smtp_suppresses_the_address(
    service: Service, bounces: Controller, name: str
) -> None:
    member_id = service.add_recipient(email="poissa@example.fi")
    delivery = welcome(service, "poissa@example.fi", member_id)
    verp = return_path(service, "poissa@example.fi")
    domain = service.runtime.extra["settings"].bounce_domain
    assert verp.startswith(f"b-{delivery.id.hex}-") and verp.endswith(f"@{domain}")
    send_to(bounces, verp, sample(name, verp, "poissa@example.fi"))
    row = suppression(service, "poissa@example.fi")
    assert row is not None and row.reason == "hard_bounce" and row.suppressed_at is not None
    assert outbox_types(service) == ["notifications.address.bounced.v1"]
    with service.runtime.db.transaction() as session:
        [bounce] = session.scalars(select(Bounce)).all()
        assert (bounce.kind, bounce.source, bounce.delivery_id) == ("hard", "dsn", delivery.id)
        assert "poissa@example.fi" not in bounce.reason
        assert is_suppressed(session, "poissa@example.fi", list_mail=False)
    welcome(service, "poissa@example.fi", member_id)
    assert len(service.mails("poissa@example.fi")) == 1  # never mailed again


def test_soft_bounces_suppress_at_the_limit_and_repeats_count_once(
    service: Service, bounces: Controller
) -> None:
    sent = [welcome(service, "tays@example.fi") for _ in range(3)]
    verps = [service.runtime.extra["services"].deliveries.verp.address(d.id) for d in sent]
    for _ in range(2):  # one delivery's warnings at 4 h and 24 h: one soft bounce
        send_to(bounces, verps[0], sample("postfix_delayed.eml", verps[0], "tays@example.fi"))
    send_to(bounces, verps[1], sample("exchange_mailbox_full.eml", verps[1], "tays@example.fi"))
    row = suppression(service, "tays@example.fi")
    assert row is not None and row.suppressed_at is None and row.soft_bounces == 3
    send_to(bounces, verps[2], sample("postfix_delayed.eml", verps[2], "tays@example.fi"))
    row = suppression(service, "tays@example.fi")
    assert row is not None and row.reason == "soft_bounces" and row.suppressed_at is not None
    assert outbox_types(service) == ["notifications.address.bounced.v1"]


def test_a_complaint_turns_the_lists_off_and_stops_list_mail_only(
    service: Service, bounces: Controller
) -> None:
    member_id = service.add_recipient(email="valittaja@example.fi")
    delivery = welcome(service, "valittaja@example.fi", member_id)
    verp = service.runtime.extra["services"].deliveries.verp.address(delivery.id)
    # Feedback loops write to a fixed address: the report's Original-Mail-From names the mail.
    send_to(
        bounces,
        f"abuse@{service.runtime.extra['settings'].bounce_domain}",
        sample("arf_complaint.eml", verp, "valittaja@example.fi"),
    )
    with service.runtime.db.transaction() as session:
        recipient = session.get(Recipient, member_id)
        assert recipient is not None and not recipient.newsletter and not recipient.invitations
        assert is_suppressed(session, "valittaja@example.fi")
        assert not is_suppressed(session, "valittaja@example.fi", list_mail=False)
    row = suppression(service, "valittaja@example.fi")
    assert row is not None and row.reason == "complaint"
    assert outbox_types(service) == ["notifications.address.complained.v1"]
    welcome(service, "valittaja@example.fi", member_id)  # a personal e-mail still goes
    assert len(service.mails("valittaja@example.fi")) == 2


def test_what_cannot_be_read_is_kept_and_forged_addresses_are_refused(
    service: Service, bounces: Controller
) -> None:
    delivery = welcome(service, "loma@example.fi")
    verp = service.runtime.extra["services"].deliveries.verp.address(delivery.id)
    send_to(bounces, verp, sample("autoreply.eml", verp, "loma@example.fi"))
    with service.runtime.db.transaction() as session:
        [kept] = session.scalars(select(BounceMail)).all()
        assert kept.delivery_id == delivery.id and b"Olen lomalla" in kept.raw
        assert session.scalars(select(Suppression)).all() == []
    forged = verp.replace(delivery.id.hex, uuid.uuid4().hex)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_to(bounces, forged, sample("postfix_hard.eml", forged, "loma@example.fi"))
    assert refused.value.recipients[forged][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_to(bounces, "someone@example.fi", b"Subject: x\r\n\r\nx\r\n")


def test_a_550_at_rcpt_is_a_hard_bounce(service: Service, refusing: Refusing) -> None:
    refusing.code, refusing.times = 550, 1
    delivery = welcome(service, "ei.ole@example.fi")
    assert delivery.status == "failed"
    row = suppression(service, "ei.ole@example.fi")
    assert row is not None and row.reason == "hard_bounce"
    with service.runtime.db.transaction() as session:
        [bounce] = session.scalars(select(Bounce)).all()
        assert (bounce.source, bounce.delivery_id) == ("smtp", delivery.id)


def test_a_451_then_accepted_is_no_bounce(service: Service, refusing: Refusing) -> None:
    refusing.code, refusing.times = 451, 1
    delivery = welcome(service, "hidas@example.fi")
    assert delivery.status == "retrying"
    with service.runtime.db.transaction() as session:
        session.execute(update(Delivery).values(next_attempt_at=None))
    assert service.runtime.extra["services"].deliveries.send(str(delivery.id)) == "sent"
    assert len(refusing.store.messages("hidas@example.fi")) == 1
    assert suppression(service, "hidas@example.fi") is None


@pytest.fixture
def dkim_key(tmp_path: Path, service: Service) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    settings = service.runtime.extra["settings"]
    settings.dkim_private_key, settings.dkim_selector, settings.dkim_domain = (
        pem,
        "uskalla2025",
        "uskalla.fi",
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_messages_are_dkim_signed_and_verify(service: Service, dkim_key: bytes) -> None:
    welcome(service, "dkim@example.fi")
    [stored] = service.sink.store.ids()
    raw = service.sink.store.raw(stored)
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return dkim_key

    assert dkim.verify(raw, dnsfunc=dns)
    assert asked == [b"uskalla2025._domainkey.uskalla.fi."]
    tampered = raw.replace(b"Subject:", b"Subject: [muutettu]", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)
    signature = message_from_bytes(raw)["DKIM-Signature"]
    assert "d=uskalla.fi" in signature and "s=uskalla2025" in signature


def test_coordinators_list_and_lift_suppressions(
    service: Service,
    bounces: Controller,
    client: FlaskClient,
    coordinator: tuple[uuid.UUID, dict[str, str]],
    make_token: Callable[..., str],
) -> None:
    member_id = service.add_recipient(email="palaava@example.fi")
    delivery = welcome(service, "palaava@example.fi", member_id)
    verp = service.runtime.extra["services"].deliveries.verp.address(delivery.id)
    send_to(bounces, verp, sample("postfix_hard.eml", verp, "palaava@example.fi"))
    client.post(
        "/api/v1/bounces",
        json={"email": "tuntematon@example.fi", "kind": "hard"},
        headers=coordinator[1],
    )
    listed = client.get("/api/v1/suppressions", headers=coordinator[1])
    assert listed.status_code == 200
    # Newest first; the two may share a timestamp on a fast machine, so they are told by reason.
    by_reason = {item["reason"]: item for item in listed.json["items"]}
    manual, bounced = by_reason["manual"], by_reason["hard_bounce"]
    assert len(listed.json["items"]) == 2
    assert (manual["reason"], manual["email"], manual["member_id"]) == ("manual", None, None)
    assert bounced["reason"] == "hard_bounce" and bounced["bounces"] == 1
    assert (bounced["email"], bounced["member_id"]) == ("palaava@example.fi", str(member_id))
    assert "palaava@example.fi" not in bounced["last_reason"] and bounced["since"]
    member = {"Authorization": f"Bearer {make_token(str(member_id), role='member')}"}
    assert client.get("/api/v1/suppressions", headers=member).status_code == 403
    assert client.delete(f"/api/v1/suppressions/{bounced['id']}", headers=member).status_code == 403
    assert client.get("/api/v1/suppressions?per_page=0", headers=coordinator[1]).status_code == 422
    lifted = client.delete(f"/api/v1/suppressions/{bounced['id']}", headers=coordinator[1])
    assert lifted.status_code == 204
    again = client.delete(f"/api/v1/suppressions/{bounced['id']}", headers=coordinator[1])
    assert again.status_code == 404 and again.content_type == "application/problem+json"
    assert [
        s["id"] for s in client.get("/api/v1/suppressions", headers=coordinator[1]).json["items"]
    ] == [manual["id"]]
    assert outbox_types(service)[-1] == "notifications.address.reinstated.v1"
    welcome(service, "palaava@example.fi", member_id)
    assert len(service.mails("palaava@example.fi")) == 2  # mailed again


def test_erasure_removes_the_bounces_and_kept_mail_that_name_the_member(
    service: Service, bounces: Controller
) -> None:
    member_id = service.add_recipient(email="Lahtija@Example.fi")
    bounced = welcome(service, "lahtija@example.fi", member_id)
    away = welcome(service, "lahtija@example.fi", member_id)
    verp, away_verp = (
        service.runtime.extra["services"].deliveries.verp.address(d.id) for d in (bounced, away)
    )
    send_to(bounces, verp, sample("postfix_hard.eml", verp, "lahtija@example.fi"))
    send_to(bounces, away_verp, sample("autoreply.eml", away_verp, "lahtija@example.fi"))
    postmaster = f"postmaster@{service.runtime.extra['settings'].bounce_domain}"
    # Kept mail that names no delivery: found by the address in its raw text (any case).
    send_to(bounces, postmaster, b"Subject: who?\r\n\r\nLAHTIJA@example.fi is gone\r\n")
    send_to(bounces, postmaster, b"Subject: id\r\n\r\nmember " + str(member_id).encode() + b"\r\n")
    # Someone else's bounce and kept mail stay.
    other = welcome(service, "jaava@example.fi")
    other_verp = service.runtime.extra["services"].deliveries.verp.address(other.id)
    send_to(bounces, other_verp, sample("postfix_hard.eml", other_verp, "jaava@example.fi"))
    send_to(bounces, postmaster, b"Subject: other\r\n\r\njaava@example.fi\r\n\xff\xfe\r\n")
    with service.runtime.db.transaction() as session:
        assert len(session.scalars(select(BounceMail)).all()) == 4
        assert len(session.scalars(select(Bounce)).all()) == 2

    service.handle("members.member.erased.v1", {"member_id": str(member_id)})

    with service.runtime.db.transaction() as session:
        [kept] = session.scalars(select(BounceMail)).all()
        assert b"jaava@example.fi" in kept.raw
        [bounce] = session.scalars(select(Bounce)).all()
        assert bounce.delivery_id == other.id
        # The dead address stays suppressed, by its hash only.
        assert is_suppressed(session, "lahtija@example.fi")
    welcome(service, "lahtija@example.fi")
    assert len(service.mails("lahtija@example.fi")) == 2  # the two before erasure, no more


def test_coordinators_see_summaries_of_the_kept_mail(
    service: Service,
    bounces: Controller,
    client: FlaskClient,
    coordinator: tuple[uuid.UUID, dict[str, str]],
    make_token: Callable[..., str],
) -> None:
    delivery = welcome(service, "loma@example.fi")
    verp = service.runtime.extra["services"].deliveries.verp.address(delivery.id)
    send_to(bounces, verp, sample("autoreply.eml", verp, "loma@example.fi"))
    postmaster = f"postmaster@{service.runtime.extra['settings'].bounce_domain}"
    with smtplib.SMTP(bounces.hostname, bounces.port) as smtp:
        smtp.sendmail(
            "mailer-daemon@example.fi",
            [postmaster],
            b"Subject: =?utf-8?q?K=C3=A4ytt=C3=A4j=C3=A4?= unknown\r\n\r\nSecret body\r\n",
        )
    listed = client.get("/api/v1/bounces/unread", headers=coordinator[1])
    assert listed.status_code == 200 and listed.json["total"] == 2
    newest, autoreply = listed.json["items"]
    assert newest["subject"] == "Käyttäjä unknown" and newest["delivery_id"] is None
    assert (newest["mail_from"], newest["rcpt_to"]) == ("mailer-daemon@example.fi", postmaster)
    assert newest["note"].startswith("not a bounce") and newest["size"] > 0
    assert autoreply["subject"] == "Automaattinen vastaus: Uutiskirje"
    assert autoreply["delivery_id"] == str(delivery.id)
    assert "Secret body" not in listed.text and "lomalla" not in listed.text  # no bodies
    second = client.get("/api/v1/bounces/unread?page=2&per_page=1", headers=coordinator[1])
    assert [i["id"] for i in second.json["items"]] == [autoreply["id"]]
    member = {"Authorization": f"Bearer {make_token(str(uuid.uuid4()), role='member')}"}
    assert client.get("/api/v1/bounces/unread", headers=member).status_code == 403
    bad = client.get("/api/v1/bounces/unread?per_page=x", headers=coordinator[1])
    assert bad.status_code == 422 and "per_page" in bad.json["errors"]
