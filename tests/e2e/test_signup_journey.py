"""Join → confirmation e-mail → confirm → welcome e-mail, through the gateway, for real."""

from __future__ import annotations

import time

import psycopg
import pytest
import requests
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.stack import Stack

from .journey import confirm, join, mails, token_in, wait_for_mail

pytestmark = pytest.mark.e2e

CONFIRM_FI = "Vahvista liittymisesi"
WELCOME_FI = "Tervetuloa"


def db(stack: Stack, service: str) -> psycopg.Connection:  # type: ignore[type-arg]
    url = stack.env[f"{service.upper()}_DATABASE_URL"].replace(
        "postgresql+psycopg://", "postgresql://"
    )
    return psycopg.connect(url, autocommit=True)


def test_join_confirm_welcome(running_stack: tuple[Stack, MailSink]) -> None:
    stack, sink = running_stack
    email = "maija.journey@example.fi"

    answer = join(stack.gateway_url, email)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"status": "confirmation_sent"}
    assert answer.headers["X-Request-ID"]

    confirmation = wait_for_mail(sink, email, CONFIRM_FI)
    assert confirmation["headers"]["Content-Language"] == "fi"
    assert confirmation["headers"]["Message-ID"]
    confirmed = confirm(stack.gateway_url, token_in(confirmation))
    assert confirmed.status_code == 200, confirmed.text
    member = confirmed.json()
    assert member["email"] == email and member["joined_at"]

    welcome = wait_for_mail(sink, email, WELCOME_FI)
    assert "Maija" in welcome["text"]

    with db(stack, "members") as conn:
        consent_at, notice = conn.execute(
            "SELECT consent_at, privacy_notice_version FROM members WHERE email = %s", (email,)
        ).fetchone()
    assert consent_at is not None and notice
    with db(stack, "experiments") as conn:
        wait_until(
            lambda: conn.execute(
                "SELECT name FROM authors WHERE member_id = %s", (member["id"],)
            ).fetchone(),
            message="the author projection",
        )
    with db(stack, "notifications") as conn:
        recipient = conn.execute(
            "SELECT email, language FROM recipients WHERE member_id = %s", (member["id"],)
        ).fetchone()
    assert recipient == (email, "fi")

    # Confirming again is harmless: same member, no second welcome.
    assert confirm(stack.gateway_url, token_in(confirmation)).status_code == 200
    time.sleep(1.5)
    assert len(mails(sink, email, CONFIRM_FI)) == 1
    assert len(mails(sink, email, WELCOME_FI)) == 1


def test_request_id_travels_from_http_into_the_event(running_stack: tuple[Stack, MailSink]) -> None:
    stack, _ = running_stack
    answer = requests.post(
        f"{stack.gateway_url}/api/v1/members",
        json={
            "email": "rid@example.fi",
            "name": "Rid",
            "language": "en",
            "consent": True,
        },
        headers={"X-Request-ID": "journey-rid-42"},
        timeout=10,
    )
    assert answer.status_code == 202
    assert answer.headers["X-Request-ID"] == "journey-rid-42"

    # The request is acted on by the members relay within a beat (the intake), under its id.
    def correlation() -> tuple[str] | None:
        with db(stack, "members") as conn:
            row = conn.execute(
                "SELECT envelope->>'correlation_id' FROM event_outbox"
                " WHERE envelope->'data'->>'email' = 'rid@example.fi'"
            ).fetchone()
        return None if row is None else (row[0],)

    assert wait_until(correlation, timeout=30, message="the join's event") == ("journey-rid-42",)


def test_nothing_lost_when_the_notifications_worker_is_killed(
    running_stack: tuple[Stack, MailSink],
) -> None:
    stack, sink = running_stack
    worker = stack.processes["notifications-worker"]
    people = [f"kill{i}@example.fi" for i in range(6)]

    # Killed before the events arrive: they wait in its durable queue.
    worker.kill()
    for email in people[:3]:
        assert join(stack.gateway_url, email).status_code == 202
    worker.start()
    # Killed while handling: whatever it held is redelivered after the visibility timeout.
    for email in people[3:]:
        assert join(stack.gateway_url, email).status_code == 202
    time.sleep(0.2)
    worker.kill()
    worker.start()

    for email in people:
        confirmation = wait_for_mail(sink, email, CONFIRM_FI, timeout=180)
        assert confirm(stack.gateway_url, token_in(confirmation)).status_code == 200
    worker.kill()  # and again with the joined events in flight
    worker.start()
    for email in people:
        wait_for_mail(sink, email, WELCOME_FI, timeout=180)

    time.sleep(3)  # any duplicate would have arrived by now
    # Exactly once as the fault suite counts it, by Message-ID: a worker killed between SMTP's
    # final dot and the COMMIT behind it sends that delivery again with the same stored
    # Message-ID, which mail systems de-duplicate by (notifications/adapters/finalcommit.py).
    for email in people:
        for subject in (CONFIRM_FI, WELCOME_FI):
            ids = {m["headers"]["Message-ID"].strip() for m in mails(sink, email, subject)}
            assert len(ids) == 1, (email, subject, ids)
