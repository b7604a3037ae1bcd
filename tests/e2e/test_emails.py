"""Every e-mail end to end: the notifications API, worker and relay as real processes, events
through the broker into its consumer, and what a real SMTP server (aiosmtpd) received."""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
from aiosmtpd.controller import Controller
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.servers import create_database, free_port
from uskalla_devstack.stack import Process
from uskalla_events import load_payload, new_envelope
from uskalla_events.celery_app import declare_topology, make_celery
from uskalla_events.consumer import send_event
from uskalla_kit.sealed import Sealer
from uskalla_kit.signed import SignedTokens
from uskalla_mailsink import MailStore

pytestmark = pytest.mark.e2e

BASE = "https://uskalla.test"
#: The key members and notifications share to seal link tokens in events (EVENT_TOKEN_KEYS).
SEALER = Sealer(["e2e-event-token-key"], "event-token")
UNSUBSCRIBE_MAX_AGE = 365 * 24 * 3600


@dataclass
class Sink:
    """A real SMTP server; `refuse[address] = (code, times)` answers RCPT with code that often."""

    store: MailStore
    refuse: dict[str, list[int]] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        rule = self.refuse.get(address)
        if rule and rule[1] > 0:
            rule[1] -= 1
            self.refused[address] += 1
            return f"{rule[0]} {'4.7.1 busy, try later' if rule[0] < 500 else '5.1.1 no such user'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.store.save(envelope.original_content or envelope.content, list(envelope.rcpt_tos))
        return "250 Message accepted"

    def count(self) -> int:
        return len(self.store.ids())

    def to(self, address: str) -> list[dict[str, Any]]:
        return self.store.messages(address)


@dataclass
class Notifications:
    env: dict[str, str]
    api_url: str
    sink: Sink
    worker: Process
    celery: Any
    dsn: str
    token: Callable[..., str]

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish as a producer's outbox does: through the topic exchange to the consumer."""
        send_event(self.celery, new_envelope(load_payload(event_type, data)).to_dict())

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(str(uuid.uuid4()), role='coordinator')}"}
        return requests.request(
            method, f"{self.api_url}{path}", headers=headers, timeout=30, **kwargs
        )

    def sql(self, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def notifications(
    postgres_server_url: str,
    redis_server_url: str,
    jwt_keys: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    make_token_module: Callable[..., str],
) -> Iterator[Notifications]:
    var = tmp_path_factory.mktemp("notifications")
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
    database = create_database(postgres_server_url, f"e2e_emails_{worker_id}", drop=True)
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    sink = Sink(MailStore(var / "mail"))
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    api_port = free_port()
    env = {
        **os.environ,
        "USKALLA_ENV": "dev",
        "PYTHONUNBUFFERED": "1",
        "NOTIFICATIONS_DATABASE_URL": database,
        "REDIS_URL": redis_server_url,
        "JWT_PUBLIC_KEY_FILE": str(jwt_keys[1]),
        "INTERNAL_API_TOKEN": "e2e-internal",
        "UNSUBSCRIBE_SECRET": "e2e-unsubscribe",
        "UNSUBSCRIBE_TOKEN_MAX_AGE": str(UNSUBSCRIBE_MAX_AGE),
        "EVENT_TOKEN_KEYS": "e2e-event-token-key",
        "PUBLIC_BASE_URL": BASE,
        "MAIL_FROM": "MeUskaltajat <noreply@uskalla.test>",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(controller.port),
        "CELERY_VISIBILITY_TIMEOUT": "8",
        "MAIL_REQUEUE_AFTER": "4",
        "RELAY_INTERVAL": "0.5",
        "WORKER_CONCURRENCY": "4",
        "LIST_MAIL_BATCH_SIZE": "50",
        "LIST_MAIL_PARALLEL": "2",
        "LIST_MAIL_CLAIM_SIZE": "20",
        "LIST_MAIL_LEASE": "6",
        "RATE_LIMITS": "off",
        "WORKER_HEARTBEAT_FILE": str(var / "worker.hb"),
        "RELAY_HEARTBEAT_FILE": str(var / "relay.hb"),
    }
    script = str(Path(sys.executable).parent / "notifications")
    subprocess.run([script, "migrate"], env=env, check=True, capture_output=True, timeout=300)
    processes = {
        name: Process(f"notifications-{name}", argv, env, var / "log" / f"{name}.log", echo=False)
        for name, argv in {
            "api": [script, "api", "--host", "127.0.0.1", "--port", str(api_port)],
            "worker": [script, "worker"],
            "relay": [script, "relay"],
        }.items()
    }
    for process in processes.values():
        process.start()
    celery = make_celery("members", redis_server_url)
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(lambda: _ready(api_url), timeout=60, message="the notifications API")
        declare_topology(celery)
        yield Notifications(
            env,
            api_url,
            sink,
            processes["worker"],
            celery,
            database.replace("postgresql+psycopg://", "postgresql://"),
            make_token_module,
        )
    finally:
        for process in processes.values():
            process.stop()
        controller.stop()


@pytest.fixture(scope="module")
def make_token_module(jwt_keys: tuple[Path, Path]) -> Callable[..., str]:
    from datetime import UTC, datetime, timedelta

    import jwt

    key = jwt_keys[0].read_text()

    def make(member_id: str, role: str = "member") -> str:
        now = datetime.now(UTC)
        claims = {"sub": member_id, "role": role, "iss": "uskalla-members", "aud": "uskalla"}
        claims |= {"iat": now, "exp": now + timedelta(minutes=15)}
        return jwt.encode(claims, key, algorithm="EdDSA")

    return make


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def mail_to(sink: Sink, address: str, timeout: float = 60) -> dict[str, Any]:
    found: list[dict[str, Any]] = wait_until(
        lambda: sink.to(address), timeout=timeout, message=f"mail to {address}"
    )
    return found[0]


def joined(member_id: str, email: str, language: str, **extra: Any) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "email": email,
        "name": f"Name {language}",
        "language": language,
        "organisation": "Kunta",
        "municipality_code": "049",
        "newsletter": True,
        "invitations": True,
        "joined_at": "2027-01-01T00:00:00Z",
    } | extra


def redis_text(url: str) -> str:
    """Every value of every key in the broker's Redis, message bodies decoded (kombu keeps
    them base64-encoded inside JSON)."""
    client = redis.Redis.from_url(url)
    values: list[bytes] = []
    try:
        for key in client.scan_iter():
            kind = client.type(key)
            if kind == b"string":
                values.append(client.get(key) or b"")
            elif kind == b"list":
                values += client.lrange(key, 0, -1)
            elif kind == b"hash":
                values += client.hvals(key)
            elif kind == b"set":
                values += client.smembers(key)
            elif kind == b"zset":
                values += client.zrange(key, 0, -1)
    finally:
        client.close()
    found = []
    for value in values:
        found.append(value.decode("utf-8", "replace"))
        for body in re.findall(rb'"body": "([A-Za-z0-9+/=]+)"', value):
            found.append(base64.b64decode(body).decode("utf-8", "replace"))
    return "\n".join(found)


def test_each_kind_arrives_once_in_the_right_language(notifications: Notifications) -> None:
    n, sink = notifications, notifications.sink
    confirm, sign_in_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    n.publish(
        "members.member.registered.v1",
        {
            "member_id": str(uuid.uuid4()),
            "email": "c@e2e.fi",
            "name": "Claim your prize at https://evil.example",
            "language": "sv",
            "token": SEALER.seal(confirm),
        },
    )
    n.publish(
        "members.member.registered.v1",
        {
            "member_id": str(uuid.uuid4()),
            "email": "a@e2e.fi",
            "name": "Another prize: https://evil.example",
            "language": "fi",
            "already_member": True,
        },
    )
    members = {lang: str(uuid.uuid4()) for lang in ("fi", "sv", "en")}
    for lang, member_id in members.items():
        n.publish("members.member.joined.v1", joined(member_id, f"{lang}@e2e.fi", lang))
    n.publish(
        "members.sign_in.requested.v1",
        {
            "member_id": members["en"],
            "email": "en@e2e.fi",
            "name": "E",
            "language": "en",
            "token": SEALER.seal(sign_in_token),
        },
    )
    confirmation = mail_to(sink, "c@e2e.fi")
    assert confirmation["subject"].startswith("Bekräfta")
    assert f"{BASE}/sv/confirm?token={confirm}" in confirmation["text"]
    already = mail_to(sink, "a@e2e.fi")
    assert already["subject"] == "Olet jo MeUskaltajat-verkoston jäsen"
    # Mail to an address that has confirmed nothing echoes nothing the joiner typed.
    assert "evil.example" not in confirmation["text"] + already["text"]
    wait_until(lambda: len(sink.to("en@e2e.fi")) == 2, message="welcome and sign-in in English")
    sign_in = next(m for m in sink.to("en@e2e.fi") if "sign-in" in m["subject"])
    assert (
        f"{BASE}/en/sign-in/callback?token={sign_in_token}" in sign_in["text"]
        and "15 minutes" in sign_in["text"]
    )
    wait_until(lambda: sink.to("fi@e2e.fi") and sink.to("sv@e2e.fi"), message="welcomes")

    gathering_id = str(uuid.uuid4())
    n.publish(
        "members.gathering.published.v1",
        {
            "gathering_id": gathering_id,
            "title": "Foorumi",
            "kind": "forum",
            "starts_at": "2027-05-20T09:00:00Z",
            "ends_at": "2027-05-20T12:00:00Z",
            "online_url": "https://meet.example/f",
            "language": "fi",
        },
    )
    wait_until(
        lambda: all(len(sink.to(f"{x}@e2e.fi")) >= 2 for x in ("fi", "sv")), message="invitations"
    )
    invitation = next(m for m in sink.to("sv@e2e.fi") if m["subject"].startswith("Inbjudan"))
    assert invitation["attachments"][0]["content_type"] == "text/calendar"
    assert invitation["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_token = invitation["headers"]["List-Unsubscribe"].split("token=")[1].rstrip(">")
    unsubscribe = SignedTokens("e2e-unsubscribe", "unsubscribe", max_age=UNSUBSCRIBE_MAX_AGE)
    assert unsubscribe.read(unsubscribe_token) == {
        "member_id": members["sv"],
        "list": "invitations",
    }

    n.publish(
        "members.registration.changed.v1",
        {
            "gathering_id": gathering_id,
            "member_id": members["fi"],
            "status": "waitlisted",
            "title": "Foorumi",
            "starts_at": "2027-05-20T09:00:00Z",
        },
    )
    n.publish(
        "experiments.comment.posted.v1",
        {
            "comment_id": str(uuid.uuid4()),
            "experiment_id": str(uuid.uuid4()),
            "experiment_title": "Kokeilu X",
            "author_id": members["fi"],
            "owner_ids": [members["fi"], members["sv"]],
        },
    )
    wait_until(
        lambda: any("jonossa" in m["subject"] for m in sink.to("fi@e2e.fi")),
        message="waitlisted notice",
    )
    wait_until(
        lambda: any("Kokeilu X" in m["subject"] for m in sink.to("sv@e2e.fi")),
        message="comment notice",
    )
    time.sleep(3)  # any duplicate would have arrived by now
    subjects = Counter(
        m["subject"]
        for address in ("c", "a", "fi", "sv", "en")
        for m in sink.to(f"{address}@e2e.fi")
    )
    assert all(count == 1 for count in subjects.values()), subjects
    assert not any("Kokeilu X" in m["subject"] for m in sink.to("fi@e2e.fi"))  # the author
    for message in sink.store.messages():
        assert message["headers"]["Message-ID"] and message["headers"]["Content-Language"]
    # The links were mailed; no working token (nor a link made of one) is kept anywhere.
    tables = [t for (t,) in n.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    stored = " ".join(str(r) for t in tables for r in n.sql(f'SELECT t::text FROM "{t}" AS t'))
    stored += redis_text(n.env["REDIS_URL"])
    assert "e2e.fi" in stored  # the scan sees what is there
    for token in (confirm, sign_in_token, unsubscribe_token):
        assert token not in stored
    assert "token=" not in stored


def test_newsletter_to_1000_arrives_once_each_despite_sigkill(notifications: Notifications) -> None:
    n, sink = notifications, notifications.sink
    people = [str(uuid.uuid4()) for _ in range(1000)]
    with (
        psycopg.connect(n.dsn, autocommit=True) as conn,
        conn.cursor() as cursor,
        cursor.copy(
            "COPY recipients (member_id, email, name, language, organisation, newsletter,"
            " invitations, active) FROM STDIN"
        ) as copy,
    ):
        for i, member_id in enumerate(people):
            language = ("fi", "sv", "en")[i % 3]
            copy.write_row(
                (
                    member_id,
                    f"{member_id}@list.e2e.fi",
                    "Reader",
                    language,
                    "",
                    True,
                    False,
                    True,
                )
            )
    before = sink.count()
    draft = n.api(
        "POST", "/api/v1/newsletters", json={"subject": "Tuhat lukijaa", "body": "**Hei!**"}
    ).json()
    assert n.api("POST", f"/api/v1/newsletters/{draft['id']}/send").status_code == 202

    wait_until(lambda: sink.count() - before >= 150, timeout=120, message="the send under way")
    n.worker.kill()  # SIGKILL to the worker's process group, mid-send
    killed_at = sink.count() - before
    progress = n.api("GET", f"/api/v1/newsletters/{draft['id']}").json()
    assert progress["status"] == "sending" and progress["progress"]["pending"] > 0
    n.worker.start()
    wait_until(lambda: sink.count() - before >= 400, timeout=120, message="sending again")
    n.worker.kill()  # and once more
    n.worker.start()

    wait_until(
        lambda: n.api("GET", f"/api/v1/newsletters/{draft['id']}").json()["status"] == "sent",
        timeout=240,
        message="the newsletter sent",
    )
    time.sleep(3)  # any duplicate would have arrived by now
    sent = [m for m in sink.store.messages() if m["subject"] == "Tuhat lukijaa"]
    ids: dict[str, set[str]] = {}
    for m in sent:
        ids.setdefault(m["to"][0], set()).add(m["headers"]["Message-ID"].strip())
    received = Counter({to: len(found) for to, found in ids.items()})
    readers = {f"{p}@list.e2e.fi" for p in people}
    # Everyone subscribed got it once: the 1000 readers and the members of the test before.
    # A kill between the final dot and the mark's COMMIT sends the same message (the same
    # Message-ID, which mail systems de-duplicate by) again: at most one such repeat a kill.
    assert readers <= set(received) and set(received.values()) == {1}, received.most_common(3)
    assert len(sent) - len(received) <= 2, f"{len(sent) - len(received)} transport repeats"
    view = n.api("GET", f"/api/v1/newsletters/{draft['id']}").json()
    assert view["progress"] == {
        "recipients": len(received),
        "sent": len(received),
        "failed": 0,
        "pending": 0,
        "skipped": 0,
        "cancelled": 0,
    }
    assert 0 < killed_at < 1000


def test_451_for_a_while_gets_the_mail_later(notifications: Notifications) -> None:
    n, sink = notifications, notifications.sink
    sink.refuse["busy@e2e.fi"] = [451, 2]
    member_id = str(uuid.uuid4())
    n.publish(
        "members.sign_in.requested.v1",
        {
            "member_id": member_id,
            "email": "busy@e2e.fi",
            "name": "B",
            "language": "fi",
            "token": SEALER.seal("X"),
        },
    )
    mail_to(sink, "busy@e2e.fi", timeout=90)  # after backoffs of 5 s and 10 s
    assert sink.refused["busy@e2e.fi"] == 2
    log = n.api("GET", f"/api/v1/deliveries?member_id={member_id}").json()
    [entry] = log["items"]
    assert entry["status"] == "sent" and entry["attempts"] == 3 and entry["error"] is None


def test_550_fails_once_and_is_not_retried(notifications: Notifications) -> None:
    n, sink = notifications, notifications.sink
    sink.refuse["nobody@e2e.fi"] = [550, 100]
    member_id = str(uuid.uuid4())
    n.publish(
        "members.sign_in.requested.v1",
        {
            "member_id": member_id,
            "email": "nobody@e2e.fi",
            "name": "N",
            "language": "fi",
            "token": SEALER.seal("X"),
        },
    )

    def failed() -> dict[str, Any] | None:
        items = n.api("GET", f"/api/v1/deliveries?member_id={member_id}").json()["items"]
        return items[0] if items and items[0]["status"] == "failed" else None

    entry = wait_until(failed, timeout=60, message="a failed delivery")
    assert entry["attempts"] == 1 and entry["error"].startswith("550")
    time.sleep(12)  # longer than the first backoff and the sweep's requeue period
    assert sink.refused["nobody@e2e.fi"] == 1 and sink.to("nobody@e2e.fi") == []
