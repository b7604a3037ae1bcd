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


def signed_in(
    gateway: str, sink: MailSink, email: str, name: str = "Maija Meikäläinen", language: str = "fi"
) -> dict[str, str]:
    """Join, confirm and sign in through the gateway, by the links mailed; the bearer headers."""
    assert join(gateway, email, name, language).status_code == 202
    confirmation = wait_until(
        lambda: [m for m in mails(sink, email) if "/confirm?token=" in m["text"]],
        timeout=60,
        message=f"the confirmation link to {email}",
    )[0]
    assert confirm(gateway, token_in(confirmation)).ok
    requests.post(f"{gateway}/api/v1/auth/sign-in", json={"email": email}, timeout=10)
    link = wait_until(
        lambda: [m for m in mails(sink, email) if "/sign-in/callback?token=" in m["text"]],
        timeout=60,
        message=f"the sign-in link to {email}",
    )[0]
    answer = requests.post(
        f"{gateway}/api/v1/auth/token", json={"token": token_in(link)}, timeout=10
    )
    assert answer.ok, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
