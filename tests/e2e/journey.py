"""Steps of the sign-up journey, driven through the gateway, reading what the SMTP server got."""

from __future__ import annotations

import re
from typing import Any

import requests
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import wait_until

TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_-]+)")


def join(
    gateway: str, email: str, name: str = "Maija Meikäläinen", language: str = "fi"
) -> requests.Response:
    return requests.post(
        f"{gateway}/api/v1/members",
        json={
            "email": email,
            "name": name,
            "organisation": "Espoon kaupunki",
            "municipality_code": "049",
            "language": language,
            "newsletter": True,
            "invitations": True,
            "consent": True,
        },
        timeout=10,
    )


def mails(sink: MailSink, to: str, subject_part: str = "") -> list[dict[str, Any]]:
    return [m for m in sink.store.messages(to) if subject_part in m["subject"]]


def wait_for_mail(
    sink: MailSink, to: str, subject_part: str, timeout: float = 60
) -> dict[str, Any]:
    found: list[dict[str, Any]] = wait_until(
        lambda: mails(sink, to, subject_part),
        timeout=timeout,
        message=f"'{subject_part}' mail to {to}",
    )
    return found[0]


def token_in(message: dict[str, Any]) -> str:
    match = TOKEN.search(message["text"])
    assert match, message["text"]
    return match.group(1)


def confirm(gateway: str, token: str) -> requests.Response:
    return requests.post(f"{gateway}/api/v1/members/confirm", json={"token": token}, timeout=10)
