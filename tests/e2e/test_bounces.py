"""Bounces come back by themselves, through the running stack: a member's newsletter is
captured, a DSN built for its real Return-Path (VERP) goes over SMTP to the bounce receiver,
the address is suppressed, members says the member is undeliverable, the next newsletter skips
them; an ARF complaint about another member's newsletter turns their lists off."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import stack_running, wait_until
from uskalla_devstack.stack import Stack

from .journey import confirm, join, mails, token_in, wait_for_mail

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).parents[2] / "services" / "notifications" / "tests" / "bounces"
COORDINATOR = "koordinaattori.bounces@example.fi"


@pytest.fixture(scope="module")
def stack(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, MailSink]]:
    with stack_running(
        postgres_server_url,
        redis_server_url,
        tmp_path_factory.mktemp("bounce-stack"),
        "bounces",
        {"BOOTSTRAP_COORDINATORS": COORDINATOR},
    ) as running:
        yield running


def member(stack: Stack, sink: MailSink, email: str) -> dict[str, str]:
    """Join, confirm and sign in through the gateway; the bearer headers."""
    assert join(stack.gateway_url, email).status_code == 202
    assert confirm(stack.gateway_url, token_in(wait_for_mail(sink, email, "Vahvista"))).ok
    requests.post(f"{stack.gateway_url}/api/v1/auth/sign-in", json={"email": email}, timeout=10)
    [link, *_] = wait_until(
        lambda: [m for m in mails(sink, email) if "/sign-in/callback?token=" in m["text"]],
        timeout=60,
        message="the sign-in link",
    )
    token = requests.post(
        f"{stack.gateway_url}/api/v1/auth/token", json={"token": token_in(link)}, timeout=10
    )
    assert token.ok, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def api(stack: Stack, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    answer = requests.request(method, stack.gateway_url + path, headers=headers, timeout=10, **kw)
    assert answer.ok, (path, answer.status_code, answer.text)
    return answer.json() if answer.content else None


def newsletter(stack: Stack, coordinator: dict[str, str], subject: str) -> str:
    created = api(
        stack,
        "POST",
        "/api/v1/newsletters",
        coordinator,
        json={"subject": subject, "body": "Hei **verkosto**!"},
    )
    api(stack, "POST", f"/api/v1/newsletters/{created['id']}/send", coordinator)
    return str(created["id"])


def report(stack: Stack, sample: str, rcpt: str, verp: str, about: str) -> None:
    """A report in a real MTA's format, sent over SMTP to the bounce receiver's port."""
    domain = verp.rpartition("@")[2]
    text = (SAMPLES / sample).read_text()
    text = text.replace("{verp}", verp).replace("{rcpt}", about).replace("{bounce_domain}", domain)
    with smtplib.SMTP("127.0.0.1", int(stack.env["BOUNCE_SMTP_PORT"]), timeout=30) as smtp:
        smtp.sendmail("", [rcpt], text.replace("\n", "\r\n").encode())


def test_a_dsn_and_a_complaint_over_smtp(stack: tuple[Stack, MailSink]) -> None:
    running, sink = stack
    coordinator = member(running, sink, COORDINATOR)
    gone, annoyed = "poissa.e2e@example.fi", "valittaja.e2e@example.fi"
    gone_auth, annoyed_auth = member(running, sink, gone), member(running, sink, annoyed)

    newsletter(running, coordinator, "Kevätkirje")
    letter = wait_for_mail(sink, gone, "Kevätkirje")
    verp = letter["headers"]["Return-Path"].strip("<>")
    assert verp.startswith("b-") and verp.endswith("@bounces.uskalla.localhost")
    report(running, "postfix_hard.eml", verp, verp, gone)

    def suppressed() -> list[dict[str, Any]]:
        items = api(running, "GET", "/api/v1/suppressions", coordinator)["items"]
        return [s for s in items if s["email"] == gone]

    [row] = wait_until(suppressed, timeout=30, message="the suppression")
    assert row["reason"] == "hard_bounce" and row["bounces"] == 1
    wait_until(
        lambda: api(running, "GET", "/api/v1/members/me", gone_auth)["undeliverable"],
        timeout=30,
        message="members marks the member undeliverable",
    )

    # The next newsletter skips them; the other member gets it.
    summer_id = newsletter(running, coordinator, "Kesäkirje")
    summer = wait_for_mail(sink, annoyed, "Kesäkirje")
    wait_until(
        lambda: (
            api(running, "GET", f"/api/v1/newsletters/{summer_id}", coordinator)["status"] == "sent"
        ),
        timeout=60,
        message="the second newsletter sent",
    )
    assert not mails(sink, gone, "Kesäkirje")
    assert len(mails(sink, gone, "Kevätkirje")) == 1

    # A feedback loop's ARF report about the other member's mail: their lists go off.
    abuse = f"abuse@{verp.rpartition('@')[2]}"
    summer_verp = summer["headers"]["Return-Path"].strip("<>")
    report(running, "arf_complaint.eml", abuse, summer_verp, annoyed)

    def lists_off() -> dict[str, Any] | None:
        me: dict[str, Any] = api(running, "GET", "/api/v1/members/me", annoyed_auth)
        return None if me["newsletter"] else me

    profile = wait_until(lists_off, timeout=30, message="members turns the complainer's lists off")
    assert profile["invitations"] is False and profile["undeliverable"] is False
