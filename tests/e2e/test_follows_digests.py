"""Follows and digests through the running stack: a member sets interests and follows an
experiment; a stage change and another's comment made together reach them as ONE e-mail (list
`follows`, one-click unsubscribe), their own comment as none, nothing once they unfollow; a
weekly digest of a period is mailed once, though the digest run is SIGKILLed, run again and run
twice side by side."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import stack_running
from uskalla_devstack.stack import Stack

from .journey import mails, signed_in, wait_for_mail

pytestmark = pytest.mark.e2e

#: A follower's activity is mailed 12 s after the first of it (the relay beats every 0.5 s).
WINDOW_SECONDS = 12
FOLLOWS_FI = "Uutta seuraamissasi kokeiluissa"
DIGEST_FI = "MeUskaltajat: viikon kooste"


@pytest.fixture(scope="module")
def stack(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, MailSink]]:
    with stack_running(
        postgres_server_url,
        redis_server_url,
        tmp_path_factory.mktemp("follows-stack"),
        "follows",
        {"FOLLOW_BATCH_MINUTES": str(WINDOW_SECONDS / 60)},
    ) as running:
        yield running


def api(
    stack: Stack, method: str, path: str, headers: dict[str, str], status: int = 200, **kw: Any
) -> Any:
    answer = requests.request(method, stack.gateway_url + path, headers=headers, timeout=10, **kw)
    assert answer.status_code == status, (path, answer.status_code, answer.text)
    return answer.json()


def published_experiment(stack: Stack, owner: dict[str, str], title: str) -> str:
    created = api(
        stack,
        "POST",
        "/api/v1/experiments",
        owner,
        201,
        json={
            "title": title,
            "summary": "Kirjasto auki lauantaisin ilman henkilökuntaa.",
            "kind": "experiment",
            "scale": "small",
            "themes": ["digital-municipality"],
            "municipality_codes": ["049"],
        },
    )
    api(stack, "POST", f"/api/v1/experiments/{created['id']}/publish", owner)
    return str(created["id"])


def settle() -> None:
    """Long enough for events to be handled and a batch window and its beat to pass."""
    time.sleep(WINDOW_SECONDS + 6)


def test_one_email_for_changes_made_together_none_for_ones_own_none_after_unfollowing(
    stack: tuple[Stack, MailSink],
) -> None:
    running, sink = stack
    owner = signed_in(running.gateway_url, sink, "omistaja.follows@example.fi", "Olli Omistaja")
    follower_address = "seuraaja.follows@example.fi"
    follower = signed_in(running.gateway_url, sink, follower_address, "Seija Seuraaja")
    other = signed_in(running.gateway_url, sink, "toinen.follows@example.fi", "Kalle Kommentoija")

    interests = {
        "themes": ["digital-municipality"],
        "municipality_codes": ["049", "091"],
        "digest": "off",
    }
    api(running, "PUT", "/api/v1/members/me/interests", follower, json=interests)
    got = api(running, "GET", "/api/v1/members/me/interests", follower)
    assert sorted(got["themes"]) == ["digital-municipality"] and got["digest"] == "off"

    experiment = published_experiment(running, owner, "Avoin kirjasto lauantaisin")
    api(running, "POST", f"/api/v1/experiments/{experiment}/followers", follower, 201)
    api(running, "POST", f"/api/v1/experiments/{experiment}/followers", follower, 200)
    follows = api(running, "GET", "/api/v1/members/me/follows", follower)
    assert experiment in [item["id"] for item in follows["items"]]

    # A stage change by the owner and a comment by another, together.
    api(
        running,
        "POST",
        f"/api/v1/experiments/{experiment}/stage",
        owner,
        json={"stage": "planning"},
    )
    api(
        running,
        "POST",
        f"/api/v1/experiments/{experiment}/comments",
        other,
        201,
        json={"body": "Hieno kokeilu! Miten kävijämäärät?"},
    )
    mail = wait_for_mail(sink, follower_address, FOLLOWS_FI, timeout=90)
    assert '"Avoin kirjasto lauantaisin" siirtyi vaiheeseen: suunnittelu' in mail["text"]
    assert '"Avoin kirjasto lauantaisin" sai uuden kommentin' in mail["text"]
    assert f"/experiments/{experiment}" in mail["text"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/api/v1/unsubscribe?token=" in mail["headers"]["List-Unsubscribe"]
    settle()
    assert len(mails(sink, follower_address, FOLLOWS_FI)) == 1
    # The owner made the change: no follow e-mail; the comment reached them as its own e-mail.
    assert mails(sink, "omistaja.follows@example.fi", FOLLOWS_FI) == []
    wait_for_mail(sink, "omistaja.follows@example.fi", "Uusi kommentti")

    # Their own comment: nothing to them (the owner is told by the comment e-mail).
    api(
        running,
        "POST",
        f"/api/v1/experiments/{experiment}/comments",
        follower,
        201,
        json={"body": "Kiinnostaa meilläkin Espoossa."},
    )
    settle()
    assert len(mails(sink, follower_address, FOLLOWS_FI)) == 1

    # Unfollowed: the next change is not theirs to hear of.
    api(running, "DELETE", f"/api/v1/experiments/{experiment}/followers/me", follower)
    api(running, "DELETE", f"/api/v1/experiments/{experiment}/followers/me", follower)
    api(
        running, "POST", f"/api/v1/experiments/{experiment}/stage", owner, json={"stage": "running"}
    )
    settle()
    assert len(mails(sink, follower_address, FOLLOWS_FI)) == 1

    # Following again, but the list `follows` turned off by the e-mail's one-click URL
    # (RFC 8058, through members): no follow e-mail.
    one_click = mail["headers"]["List-Unsubscribe"].strip("<>")
    answer = requests.post(one_click, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert api(running, "GET", "/api/v1/members/me", follower)["follows"] is False
    api(running, "POST", f"/api/v1/experiments/{experiment}/followers", follower, 201)
    time.sleep(3)  # members' subscriptions event reaches notifications
    api(
        running,
        "POST",
        f"/api/v1/experiments/{experiment}/stage",
        owner,
        json={"stage": "discontinued"},
    )
    settle()
    assert len(mails(sink, follower_address, FOLLOWS_FI)) == 1


def digests_run(running: Stack, at: datetime) -> subprocess.Popen[bytes]:
    """`notifications digests --at ...` with the stack's own environment."""
    relay = running.processes["notifications-relay"]
    argv = [*relay.argv[: relay.argv.index("relay")], "digests", "--at", at.isoformat()]
    return subprocess.Popen(argv, env=relay.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_weekly_digest_is_sent_once_through_a_kill_and_two_runs_side_by_side(
    stack: tuple[Stack, MailSink],
) -> None:
    running, sink = stack
    owner = signed_in(running.gateway_url, sink, "omistaja.digest@example.fi", "Olli")
    readers = {
        "lukija.digest@example.fi": ("fi", DIGEST_FI),
        "lasare.digest@example.fi": ("sv", "MeUskaltajat: veckans sammandrag"),
    }
    for address, (language, _) in readers.items():
        auth = signed_in(running.gateway_url, sink, address, "Lukija", language)
        api(
            running,
            "PUT",
            "/api/v1/members/me/interests",
            auth,
            json={"themes": ["digital-municipality"], "municipality_codes": [], "digest": "weekly"},
        )
    elsewhere = signed_in(running.gateway_url, sink, "muualla.digest@example.fi", "Muualla")
    api(
        running,
        "PUT",
        "/api/v1/members/me/interests",
        elsewhere,
        json={"themes": ["parallel-organisations"], "municipality_codes": [], "digest": "weekly"},
    )
    title = "Digitaalinen rakennuslupa"
    published_experiment(running, owner, title)
    time.sleep(3)  # the published event reaches notifications

    # The week that will have ended a week from now: it holds this moment.
    at = datetime.now(UTC) + timedelta(days=8)
    killed = digests_run(running, at)
    time.sleep(2.5)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    assert killed.returncode in (-signal.SIGKILL, 0)
    racers = [digests_run(running, at) for _ in range(2)]
    for racer in racers:
        output, _ = racer.communicate(timeout=120)
        assert racer.returncode == 0, output.decode()
    again = digests_run(running, at)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and b'"scheduled": 0' in output, output.decode()

    for address, (_, subject) in readers.items():
        mail = wait_for_mail(sink, address, subject, timeout=60)
        assert title in mail["text"]
        assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    time.sleep(6)  # lost tasks are requeued after MAIL_REQUEUE_AFTER (5 s): none may come
    for address, (_, subject) in readers.items():
        assert len(mails(sink, address, subject)) == 1, address
    assert mails(sink, "muualla.digest@example.fi", "MeUskaltajat:") == []
