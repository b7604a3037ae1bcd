"""No usable link token at rest: members seals the tokens of its events, notifications opens
them only while it builds the e-mail and drops them once the delivery is settled. A token that
does not open is a dead letter, never a mail with a broken link or a raw value."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Callable
from urllib.parse import quote

import psycopg
import pytest
from notifications.adapters.models import Delivery
from notifications.service_layer.recipients import UnreadableToken
from psycopg.types.json import Jsonb
from sqlalchemy import select, text
from uskalla_events import Envelope, load_payload, new_envelope
from uskalla_events.celery_app import EVENT_TASK
from uskalla_kit.sealed import Sealer

from .conftest import MIGRATIONS, Service

BASE = "https://uskalla.test"


def everything(service: Service) -> str:
    """Every row of every table of the notifications database, as text."""
    with service.runtime.db.transaction() as session:
        tables = session.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).all()
        return "\n".join(
            str(value)
            for table in tables
            for value in session.scalars(text(f'SELECT t::text FROM "{table}" AS t')).all()
        )


def contexts(service: Service) -> list[dict]:
    with service.runtime.db.transaction() as session:
        return [dict(c) for c in session.scalars(select(Delivery.context)).all()]


def test_no_working_token_rests_in_the_database_or_the_logs(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    confirm, sign_in, bounced = (secrets.token_urlsafe(32) for _ in range(3))
    events: list[Envelope] = [
        new_envelope(
            load_payload(
                "members.member.registered.v1",
                {
                    "member_id": str(uuid.uuid4()),
                    "email": "new@example.fi",
                    "name": "Uusi",
                    "language": "sv",
                    "token": service.seal(confirm),
                },
            )
        ),
        new_envelope(
            load_payload(
                "members.sign_in.requested.v1",
                {
                    "member_id": str(uuid.uuid4()),
                    "email": "member@example.fi",
                    "name": "Jäsen",
                    "language": "fi",
                    "token": service.seal(sign_in),
                },
            )
        ),
    ]
    with service.runtime.db.transaction() as session:  # a dead address: given up at send time
        session.execute(
            text(
                "INSERT INTO suppressions (email_hash, soft_bounces, hard_bounces, suppressed_at,"
                " last_reason) VALUES (encode(sha256('gone@example.fi'), 'hex'), 0, 1, now(), '')"
            )
        )
    events.append(
        new_envelope(
            load_payload(
                "members.sign_in.requested.v1",
                {
                    "member_id": str(uuid.uuid4()),
                    "email": "gone@example.fi",
                    "name": "Poissa",
                    "language": "fi",
                    "token": service.seal(bounced),
                },
            )
        )
    )
    raw = (confirm, sign_in, bounced)
    for envelope in events:
        # What travels (outbox, broker, inbox, dead letters) holds the sealed value only.
        assert not any(r in json.dumps(envelope.to_dict()) for r in raw)
        assert service.runtime.events.consumer.handle(envelope)
    waiting = everything(service)
    assert "sealed:" in waiting and not any(r in waiting for r in raw)

    service.tasks.drain()
    [confirmation] = service.mails("new@example.fi")
    assert f"{BASE}/sv/confirm?token={quote(confirm)}" in confirmation["text"]
    [link] = service.mails("member@example.fi")
    assert f"{BASE}/sign-in/callback?token={quote(sign_in)}" in link["text"]
    assert service.mails("gone@example.fi") == []

    at_rest = everything(service)
    for token in raw:
        assert token not in at_rest and quote(token) not in at_rest
        assert token not in caplog.text
    # Sent or given up: not even the sealed token stays, nor a link made of it.
    assert "sealed:" not in at_rest and "token=" not in at_rest


def dead_letters(service: Service) -> list[dict]:
    return service.runtime.events.consumer.list_dead_letters()


@pytest.mark.parametrize(
    "token",
    [
        "plain-token-members-forgot-to-seal",
        Sealer(["a key notifications does not hold"], "event-token").seal("x"),
        "sealed:not-a-fernet-token",
        None,
    ],
)
def test_a_token_that_does_not_open_is_a_dead_letter_not_a_mail(
    service: Service, token: str | None
) -> None:
    envelope = new_envelope(
        load_payload(
            "members.member.registered.v1",
            {
                "member_id": str(uuid.uuid4()),
                "email": "joiner@example.fi",
                "name": "N",
                "language": "fi",
                "token": token,
            },
        )
    )
    with pytest.raises(UnreadableToken):
        service.runtime.events.consumer.handle(envelope)
    # Through the real event task: not retried, dead-lettered at once with the reason.
    service.runtime.events.celery.tasks[EVENT_TASK].apply(args=[envelope.to_dict()])
    [dead] = dead_letters(service)
    assert dead["attempts"] == 1
    assert dead["error"].startswith("UnreadableToken: the link token of")
    assert "EVENT_TOKEN_KEYS" in dead["error"]
    if token:
        assert token not in dead["error"]
    service.tasks.drain()
    assert contexts(service) == [] and service.mails() == []


def test_a_token_whose_key_was_retired_before_sending_fails_the_delivery(
    service: Service,
) -> None:
    service.handle(
        "members.sign_in.requested.v1",
        {
            "member_id": str(uuid.uuid4()),
            "email": "late@example.fi",
            "name": "Myöhässä",
            "language": "en",
            "token": service.seal("spent-before-sent"),
        },
    )
    composer = service.runtime.extra["services"].deliveries.composer
    composer.link_tokens = Sealer(["the next key"], "event-token")
    service.tasks.drain()
    assert service.mails() == []
    with service.runtime.db.transaction() as session:
        [row] = session.scalars(select(Delivery)).all()
        assert row.status == "failed" and "does not open" in (row.error or "")
        assert "token" not in row.context


def test_migration_0005_takes_raw_tokens_out_of_what_was_stored_before(
    make_database: Callable[[str], str],
) -> None:
    from alembic import command
    from uskalla_kit.migrations import alembic_config

    url = make_database("notifications_0005")
    config = alembic_config(MIGRATIONS, url)
    command.upgrade(config, "0004")
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO deliveries (id, kind, email, language, cause, context, status, attempts,"
            " message_id) VALUES (gen_random_uuid(), 'sign_in', 'a@x.fi', 'fi', 'c1', %s, 'sent',"
            " 1, '<1@x>'), (gen_random_uuid(), 'confirmation', 'b@x.fi', 'fi', 'c2', %s,"
            " 'pending', 0, '<2@x>')",
            (
                Jsonb({"name": "A", "sign_in_url": f"{BASE}/sign-in/callback?token=RAW1"}),
                Jsonb({"name": "B", "confirm_url": f"{BASE}/confirm?token=RAW2"}),
            ),
        )
        conn.execute(
            "INSERT INTO event_dead_letters (event_id, type, envelope, error, attempts) VALUES"
            " (gen_random_uuid(), 'members.sign_in.requested.v1', %s, 'x', 1),"
            " (gen_random_uuid(), 'members.member.registered.v1', %s, 'x', 1)",
            (
                Jsonb({"data": {"email": "a@x.fi", "token": "RAW3"}}),
                Jsonb({"data": {"email": "b@x.fi", "token": "sealed:kept"}}),
            ),
        )
    command.upgrade(config, "0005")
    with psycopg.connect(dsn, autocommit=True) as conn:
        stored = str(conn.execute("SELECT context FROM deliveries ORDER BY cause").fetchall())
        stored += str(
            conn.execute("SELECT envelope FROM event_dead_letters ORDER BY id").fetchall()
        )
    assert "RAW" not in stored and "token=" not in stored
    assert "'name': 'A'" in stored and "sealed:kept" in stored and "a@x.fi" in stored


def test_link_lifetimes_from_the_events_reach_the_mails_context(service: Service) -> None:
    """`valid_hours` (confirmation) and `valid_minutes` (sign-in) as the event says; an older
    event that does not say leaves it to the composer, which says the settings' lifetimes
    (members' defaults: 7 days, 15 minutes)."""

    def person(email: str) -> dict[str, object]:
        return {"member_id": str(uuid.uuid4()), "email": email, "name": "N", "language": "fi"}

    for email, lifetime in (("short@example.fi", {"valid_hours": 48}), ("old@example.fi", {})):
        service.handle(
            "members.member.registered.v1",
            {**person(email), "token": service.seal(secrets.token_urlsafe(16)), **lifetime},
        )
    for email, lifetime in (("quick@example.fi", {"valid_minutes": 5}), ("old2@example.fi", {})):
        service.handle(
            "members.sign_in.requested.v1",
            {**person(email), "token": service.seal(secrets.token_urlsafe(16)), **lifetime},
        )
    with service.runtime.db.transaction() as session:
        found = {d.email: d.context for d in session.scalars(select(Delivery))}
    assert found["short@example.fi"]["valid_hours"] == 48
    assert "valid_hours" not in found["old@example.fi"]
    assert found["quick@example.fi"]["valid_minutes"] == 5
    assert "valid_minutes" not in found["old2@example.fi"]
    service.tasks.drain()
    said = {
        "short@example.fi": "2 päivää",
        "old@example.fi": "7 päivää",
        "quick@example.fi": "5 minuuttia",
        "old2@example.fi": "15 minuuttia",
    }
    for email, lifetime in said.items():
        [mail] = service.mails(email)
        assert lifetime in mail["text"], (email, mail["text"])
