"""Newsletter benchmark: 100,000 recipients into a local SMTP sink, the platform beside a plain
smtplib loop, measured in the same run against the same sink.

The sink is aiosmtpd in its own process that only counts. The plain loop is one smtplib
connection sending each recipient's message, composed by the service's own Composer (the same
template, headers and unsubscribe token), with `send_message`; it sends half of the recipients
before the platform's run and half after, so that load drifting on a shared machine weighs on
both alike. The platform: a newsletter draft sent through the service layer (what
`POST .../send` does) and a real `notifications worker` process doing the work: the audience
frozen into delivery rows, rows claimed in small batches and each marked sent before the
final dot, over reused connections; timed from the send until the newsletter's status is
`sent`. Prints messages per second for both and the ratio (target: at least 0.7, and well
above 100/s).

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
    TEST_REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/bench_newsletter.py
"""

from __future__ import annotations

import multiprocessing
import os
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import psycopg
import redis
from alembic import command
from alembic.config import Config

N = int(os.environ.get("BENCH_RECIPIENTS", "100000"))
PARALLEL = os.environ.get("BENCH_PARALLEL", "4")
#: Suffixed like the other benchmarks' databases, so that two runs at once do not collide.
DB_NAME = "bench_notifications_newsletter_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
MIGRATIONS = Path(__file__).parents[1] / "services/notifications/src/notifications/migrations"
BODY = """# Kevään uutiskirje

Hei verkosto! Tässä kevään **kokeilut** ja tapahtumat:

* Digiraati Espoossa: asukkaat arvioivat tekoälyn käyttöä
* Tarinapaja 12.5. Kuntatalolla — [ilmoittaudu](https://uskalla.example/gatherings)
* Innovatiiviset hankinnat: mitä opimme epäonnistuneesta kokeilusta

Terveisin, Uskalla kokeilla -ohjelma
"""


class Counting:
    def __init__(self, counter: Synchronized[int]) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def run_sink(port: int, counter: Synchronized[int], ready: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Counting(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def database_urls() -> tuple[str, str]:
    server = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    dsn = server.rsplit("/", 1)[0] + f"/{DB_NAME}"
    return dsn, dsn.replace("postgresql://", "postgresql+psycopg://", 1)


def seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY recipients (member_id, email, name, language, organisation, municipality_code,"
            " newsletter, invitations, active) FROM STDIN"
        ) as copy:
            for i in range(N):
                member_id = uuid.uuid4()
                language = "fi" if i % 10 < 8 else ("sv" if i % 10 == 8 else "en")
                copy.write_row(
                    (
                        member_id,
                        f"{member_id}@bench.example",
                        "Lukija",
                        language,
                        "",
                        "049",
                        True,
                        False,
                        True,
                    )
                )
        conn.execute("ANALYZE recipients")


def wait_count(counter: Synchronized[int], target: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while counter.value < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"sink got {counter.value} of {target}")
        time.sleep(0.01)


def main() -> None:
    from notifications.adapters.models import Recipient

    dsn, url = database_urls()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
    seed(dsn)

    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    redis.Redis.from_url(redis_url).flushdb()
    from uskalla_devstack.servers import free_port

    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("q", 0)
    ready = ctx.Event()
    sink = ctx.Process(target=run_sink, args=(port, counter, ready), daemon=True)
    sink.start()
    ready.wait(30)
    keys = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    from uskalla_devstack.keys import ensure_dev_keys

    _, public = ensure_dev_keys(keys)
    env = {
        **os.environ,
        "USKALLA_ENV": "dev",
        "NOTIFICATIONS_DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "JWT_PUBLIC_KEY_FILE": str(public),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "PUBLIC_BASE_URL": "https://uskalla.example",
        "MAIL_FROM": "MeUskaltajat <noreply@uskalla.example>",
        "LIST_MAIL_PARALLEL": PARALLEL,
        "WORKER_CONCURRENCY": PARALLEL,
        "LIST_MAIL_RATE": "0",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(
        {
            k: v
            for k, v in env.items()
            if k not in os.environ
            or k
            in (
                "USKALLA_ENV",
                "NOTIFICATIONS_DATABASE_URL",
                "REDIS_URL",
                "JWT_PUBLIC_KEY_FILE",
                "SMTP_HOST",
                "SMTP_PORT",
                "PUBLIC_BASE_URL",
                "MAIL_FROM",
                "LIST_MAIL_PARALLEL",
            )
        }
    )
    from notifications.adapters.composer import Outgoing
    from notifications.bootstrap import build_runtime
    from sqlalchemy import select

    runtime = build_runtime()
    newsletters = runtime.extra["services"].newsletters
    composer = runtime.extra["services"].deliveries.composer
    with runtime.db.transaction() as session:
        newsletter = newsletters.create(
            session, {"subject": "Kevään uutiskirje", "body": BODY}, str(uuid.uuid4())
        )
        newsletter_id = newsletter.id
        audience = session.execute(
            select(Recipient.member_id, Recipient.email, Recipient.language)
        ).all()
        source = composer._load(session, "newsletter", str(newsletter_id))

    # -- the plain loop: half before the platform and half after, so that a machine whose
    # load drifts during the run weighs on both sides alike -----------------------------
    print(f"recipients: {N}", flush=True)

    def plain_loop(rows: Sequence[Any]) -> float:
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for member_id, email, language in rows:
                item = Outgoing(
                    uuid.uuid4(),
                    "newsletter",
                    email,
                    language,
                    str(newsletter_id),
                    f"<{uuid.uuid4()}@uskalla.example>",
                    member_id,
                    {},
                    "Lukija",
                )
                smtp.send_message(composer.compose(item, source))
        return time.perf_counter() - start

    half = len(audience) // 2
    plain = plain_loop(audience[:half])
    wait_count(counter, half, 60)

    # -- the platform -----------------------------------------------------------------------
    script = str(Path(sys.executable).parent / "notifications")
    worker = subprocess.Popen(
        [script, "worker", "--heartbeat", ""],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        runtime.events.declare()
        time.sleep(3)  # the worker is up and consuming
        before = counter.value
        start = time.perf_counter()
        with runtime.db.transaction() as session:
            newsletters.send(session, newsletter_id)
        status = "sending"
        while status != "sent":
            time.sleep(0.05)
            with psycopg.connect(dsn) as conn:
                row = conn.execute(
                    "SELECT status FROM newsletters WHERE id = %s", (newsletter_id,)
                ).fetchone()
                if row is None:
                    raise RuntimeError(f"newsletter {newsletter_id} is gone")
                status = row[0]
        platform = time.perf_counter() - start
        sent = counter.value - before
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
    assert sent == N, f"the sink got {sent} newsletter messages, expected {N}"
    before = counter.value
    plain += plain_loop(audience[half:])
    wait_count(counter, before + N - half, 60)
    sink.kill()
    print(f"plain smtplib loop: {N / plain:8.0f} messages/s  ({plain:.1f} s, one connection)")
    print(
        f"platform:           {N / platform:8.0f} messages/s  ({platform:.1f} s; a worker"
        f" process, {PARALLEL} chains, freezing the audience included)"
    )
    print(f"ratio platform / plain loop: {plain / platform:.2f}  (target >= 0.70)")


if __name__ == "__main__":
    main()
