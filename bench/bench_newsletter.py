"""Newsletter benchmark (issue 19, item 1): 100,000 recipients through a real `notifications
worker` into Postfix's `smtp-sink`, beside what the machine's SMTP can do and beside what a
user would write instead, all with the same number of SMTP sessions, in one run.

- **the sink**: Postfix's `smtp-sink` (C, from Debian's `postfix` package), so that the sink is
  not what limits; it counts every message whose final dot it read (`-c`). Where it is missing
  the benchmark says so and falls back to an aiosmtpd sink in its own process (which then
  limits every side alike, and the absolute figures mean little).
- **smtp-source** (Postfix's C sender) with the same number of sessions, each session sending
  message after message (`-d`), messages the size of a composed newsletter: the machine's SMTP
  limit.
- **a Python sender** with the same number of connections (one process each, smtplib), sending
  the very messages the platform would send, composed beforehand by the service's own
  Composer (same template, headers, unsubscribe link, VERP envelope sender); composing is not
  timed, only sending. Half of the recipients before the platform's run and half after, so
  that load drifting on a shared machine weighs on both alike.
- **the platform**: a newsletter sent through the service layer (what `POST .../send` does)
  and real `notifications worker` processes (`BENCH_WORKERS`, each with `LIST_MAIL_PARALLEL`
  chains of its own) doing the work: the audience frozen into delivery rows, rows claimed in
  batches and marked sent, over reused connections; timed from the send until the
  newsletter's status is `sent`, freezing the audience included. Every message must reach the
  sink.

Sessions: `BENCH_PARALLEL` (default 4) for every side. Ends with RESULT lines (target: the
platform at ≥ 2,000 messages/s and at least the Python sender's rate).

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
    TEST_REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/bench_newsletter.py
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
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
from common import result

N = int(os.environ.get("BENCH_RECIPIENTS", "100000"))
SESSIONS = int(os.environ.get("BENCH_PARALLEL", "4"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
#: Suffixed like the other benchmarks' databases, so that two runs at once do not collide.
DB_NAME = "bench_notifications_newsletter_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
MIGRATIONS = Path(__file__).parents[1] / "services/notifications/src/notifications/migrations"
SMTP_SINK = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin")
SMTP_SOURCE = shutil.which("smtp-source") or shutil.which("smtp-source", path="/usr/sbin")
BODY = """# Kevään uutiskirje

Hei verkosto! Tässä kevään **kokeilut** ja tapahtumat:

* Digiraati Espoossa: asukkaat arvioivat tekoälyn käyttöä
* Tarinapaja 12.5. Kuntatalolla — [ilmoittaudu](https://uskalla.example/gatherings)
* Innovatiiviset hankinnat: mitä opimme epäonnistuneesta kokeilusta

Terveisin, Uskalla kokeilla -ohjelma
"""


class PostfixSink:
    """Postfix's smtp-sink, counting the messages whose final dot it read (its `-c`)."""

    name = "Postfix smtp-sink (C)"

    def __init__(self, port: int) -> None:
        assert SMTP_SINK is not None
        # As root it must be told whom to run as once it listens.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            [SMTP_SINK, *user, "-c", f"127.0.0.1:{port}", "1024"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.last = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            buffer = (buffer + chunk)[-4096:]
            # The counters are rewritten in place on one line ("\r"); keep the newest.
            lines = [p for p in re.split(rb"[\r\n]", buffer) if p.strip()]
            if lines:
                self.last = lines[-1].decode(errors="replace")

    def count(self) -> int:
        """Messages received so far: the counter line's last number (`sess=.. quit=.. mesg=n`)."""
        numbers = re.findall(r"\d+", self.last)
        return int(numbers[-1]) if numbers else 0

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)


class Counting:
    def __init__(self, counter: Synchronized[int]) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def run_python_sink(port: int, counter: Synchronized[int], ready: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Counting(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


class PythonSink:
    """The fallback: aiosmtpd in its own process, counting."""

    name = "aiosmtpd (Python; smtp-sink is missing: `apt-get install postfix`)"

    def __init__(self, port: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.counter = ctx.Value("q", 0)
        ready = ctx.Event()
        self.process = ctx.Process(
            target=run_python_sink, args=(port, self.counter, ready), daemon=True
        )
        self.process.start()
        ready.wait(30)

    def count(self) -> int:
        return int(self.counter.value)

    def close(self) -> None:
        self.process.kill()


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


def wait_count(sink: Any, target: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sink.count() < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sink got {sink.count()} of {target}")
        time.sleep(0.02)


# -- the Python sender: one process per connection, each composing its share first -------
#: Set in the parent before the fork, read by the children (fork start method).
_SHARED: dict[str, Any] = {}


def _python_sender(rows: Sequence[Any], port: int, go: Any, out: Any) -> None:
    from notifications.adapters.composer import Outgoing
    from notifications.adapters.mailer import wire_bytes

    composer, source, verp, newsletter_id = (
        _SHARED["composer"],
        _SHARED["source"],
        _SHARED["verp"],
        _SHARED["newsletter_id"],
    )
    composed: list[tuple[str, str, bytes]] = []
    started = time.monotonic()
    for member_id, email, language in rows:
        delivery_id = uuid.uuid4()
        item = Outgoing(
            delivery_id,
            "newsletter",
            email,
            language,
            str(newsletter_id),
            f"<{uuid.uuid4()}@uskalla.example>",
            member_id,
            {},
            "Lukija",
        )
        data = wire_bytes(composer.compose(item, source))
        composed.append((verp.address(delivery_id), email, data))
    composing = time.monotonic() - started
    go.wait()
    started = time.monotonic()
    sent = 0
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for sender, to, data in composed:
            smtp.sendmail(sender, [to], data)
            sent += 1
    size = sum(len(d) for *_, d in composed)
    out.put((started, time.monotonic(), sent, composing, size, len(composed)))


def python_sender(rows: Sequence[Any], port: int) -> tuple[float, int, float, float]:
    """(seconds sending, messages sent, composing messages/s per process, mean bytes)."""
    ctx = multiprocessing.get_context("fork")
    go, out = ctx.Barrier(SESSIONS + 1), ctx.Queue()
    shares = [rows[i::SESSIONS] for i in range(SESSIONS)]
    processes = [
        ctx.Process(target=_python_sender, args=(share, port, go, out)) for share in shares
    ]
    for process in processes:
        process.start()
    go.wait()
    reports = [out.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join(60)
    seconds = max(r[1] for r in reports) - min(r[0] for r in reports)
    sent = sum(r[2] for r in reports)
    composing = sum(r[5] for r in reports) / sum(r[3] for r in reports)  # per process
    size = sum(r[4] for r in reports) / max(1, sent)
    return seconds, sent, composing, size


def smtp_source(count: int, size: int, port: int) -> float:
    """Seconds Postfix's smtp-source takes for `count` messages of `size` bytes over the same
    number of sessions, each sending message after message on its connection."""
    assert SMTP_SOURCE is not None
    started = time.monotonic()
    subprocess.run(
        [
            SMTP_SOURCE,
            "-d",
            "-s",
            str(SESSIONS),
            "-m",
            str(count),
            "-l",
            str(size),
            "-f",
            "bounces@bench.example",
            "-t",
            "reader@bench.example",
            f"127.0.0.1:{port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=3600,
    )
    return time.monotonic() - started


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    from notifications.adapters.models import Recipient

    print(f"load average {loadavg()} at {time.strftime('%H:%M:%S')} (start)", flush=True)
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
    sink: PostfixSink | PythonSink = PostfixSink(port) if SMTP_SINK else PythonSink(port)
    keys = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    from uskalla_devstack.keys import ensure_dev_keys

    _, public = ensure_dev_keys(keys)
    settings = {
        "USKALLA_ENV": "dev",
        "NOTIFICATIONS_DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "JWT_PUBLIC_KEY_FILE": str(public),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "PUBLIC_BASE_URL": "https://uskalla.example",
        "MAIL_FROM": "MeUskaltajat <noreply@uskalla.example>",
        "LIST_MAIL_PARALLEL": str(max(1, SESSIONS // WORKERS)),
        "WORKER_CONCURRENCY": str(max(1, SESSIONS // WORKERS)),
        "LIST_MAIL_RATE": "0",
        "LOG_LEVEL": "WARNING",
    }
    env = {**os.environ, **settings}
    os.environ.update(settings)
    from notifications.bootstrap import build_runtime
    from sqlalchemy import select

    runtime = build_runtime()
    services = runtime.extra["services"]
    newsletters, composer = services.newsletters, services.deliveries.composer
    with runtime.db.transaction() as session:
        newsletter = newsletters.create(
            session, {"subject": "Kevään uutiskirje", "body": BODY}, str(uuid.uuid4())
        )
        newsletter_id = newsletter.id
        audience = session.execute(
            select(Recipient.member_id, Recipient.email, Recipient.language)
        ).all()
        source = composer._load(session, "newsletter", str(newsletter_id))
    _SHARED.update(
        composer=composer,
        source=source,
        verp=services.deliveries.verp,
        newsletter_id=newsletter_id,
    )
    print(f"recipients: {N}; SMTP sessions on every side: {SESSIONS}; sink: {sink.name}")

    # -- Python sender, first half; smtp-source ----------------------------------------------
    half = len(audience) // 2
    before = sink.count()
    python_seconds, python_sent, composing, size = python_sender(audience[:half], port)
    wait_count(sink, before + half, 120)
    source_seconds = float("nan")
    if SMTP_SOURCE:
        before = sink.count()
        source_seconds = smtp_source(N, int(size), port)
        wait_count(sink, before + N, 120)
    else:
        print("smtp-source is missing (`apt-get install postfix`): no SMTP baseline")

    # -- the platform ------------------------------------------------------------------------
    script = str(Path(sys.executable).parent / "notifications")
    workers = [
        subprocess.Popen(
            [script, "worker", "--heartbeat", ""],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(WORKERS)
    ]
    try:
        runtime.events.declare()
        time.sleep(5)  # the workers are up and consuming
        before = sink.count()
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
        time.sleep(0.5)  # the last counters reach the sink's line
        platform_sent = sink.count() - before
        with psycopg.connect(dsn) as conn:
            found = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'sent') FROM deliveries"
                " WHERE cause = %s AND kind = 'newsletter'",
                (str(newsletter_id),),
            ).fetchone()
            rows_sent = int(found[0]) if found else 0
    finally:
        for worker in workers:
            os.killpg(worker.pid, 15)
        for worker in workers:
            worker.wait(30)

    # -- Python sender, second half ----------------------------------------------------------
    before = sink.count()
    seconds, sent, composing2, _ = python_sender(audience[half:], port)
    wait_count(sink, before + len(audience) - half, 120)
    sink.close()
    python_seconds += seconds
    python_sent += sent
    composing = (composing + composing2) / 2

    python_rate = python_sent / python_seconds
    platform_rate = N / platform
    source_rate = N / source_seconds
    print(f"messages: {size:.0f} bytes on average (a composed newsletter)")
    print(f"smtp-source (C):    {source_rate:8.0f} messages/s  ({source_seconds:.1f} s)")
    print(
        f"Python sender:      {python_rate:8.0f} messages/s  ({python_seconds:.1f} s sending"
        f" pre-composed messages; composing them took a process {1 / composing * 1000:.2f} ms"
        " each)"
    )
    print(
        f"platform:           {platform_rate:8.0f} messages/s  ({platform:.1f} s; {WORKERS}"
        f" worker processes, {SESSIONS} chains, freezing the audience included)"
    )
    print(f"load average {loadavg()} at {time.strftime('%H:%M:%S')} (end)")
    result("newsletter_smtp_source_msgs_per_s", source_rate, "msg/s", ">=2000")
    result("newsletter_python_sender_msgs_per_s", python_rate, "msg/s", ">0")
    result("newsletter_platform_msgs_per_s", platform_rate, "msg/s", ">=2000")
    result("newsletter_ratio_to_python_sender", platform_rate / python_rate, "ratio", ">=1.0")
    result("newsletter_messages_missing_at_sink", N - platform_sent, "messages", "<=0")
    result("newsletter_deliveries_not_marked_sent", N - rows_sent, "rows", "<=0")


if __name__ == "__main__":
    main()
