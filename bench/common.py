"""Shared helpers for the benchmarks: servers, the stack, a timing SMTP sink, RESULT lines."""

from __future__ import annotations

import email
import email.parser
import email.policy
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
from aiosmtpd.controller import Controller
from uskalla_devstack.servers import ServerSet, free_port
from uskalla_devstack.stack import Stack, StackConfig

TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_.-]+)")
CONFIRM_SUBJECT = "Vahvista liittymisesi"
SIGN_IN_SUBJECT = "Kirjautumislinkkisi"


@contextmanager
def servers(name: str) -> Iterator[tuple[str, str, Path]]:
    """PostgreSQL and Redis as the tests find them (TEST_DATABASE_URL / TEST_REDIS_URL, else
    started here), the Redis database emptied, and a scratch directory; all cleaned up after."""
    work = Path(tempfile.mkdtemp(prefix=f"uskalla-bench-{name}-"))
    found = ServerSet(work / "servers")
    try:
        pg, rd = found.postgres(), found.redis()
        flush(rd)
        yield pg, rd, work
        flush(rd)  # leave no queued copies (e.g. for consumers that never ran) behind
    finally:
        found.close()
        shutil.rmtree(work, ignore_errors=True)


def flush(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class Arrival:
    at: float  # time.monotonic() when the message's DATA was accepted
    subject: str
    raw: bytes | None  # kept only when the bench asked for bodies

    def text(self) -> str:
        """The plain-text part, decoded (where the links are)."""
        assert self.raw is not None
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""

    def token(self) -> str:
        match = TOKEN.search(self.text())
        if match is None:
            raise ValueError(f"no token in mail {self.subject!r}")
        return match.group(1)


@dataclass
class TimedSink:
    """A real SMTP server (aiosmtpd) that records, per recipient, when each message arrived.

    No files and no polling: the arrival time is taken in the handler itself. `keep_bodies`
    says which subjects' raw messages are kept (others only count); `on_arrival` is called
    in the SMTP thread for every recipient of every message.
    """

    keep_bodies: tuple[str, ...] = ()
    on_arrival: Callable[[str, Arrival], None] | None = None
    arrivals: dict[str, list[Arrival]] = field(default_factory=dict)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        raw = envelope.original_content or envelope.content
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        subject = str(headers.get("Subject", ""))
        keep = raw if any(s in subject for s in self.keep_bodies) else None
        arrival = Arrival(now, subject, keep)
        with self.lock:
            self.count += len(envelope.rcpt_tos)
            for rcpt in envelope.rcpt_tos:
                self.arrivals.setdefault(rcpt.lower(), []).append(arrival)
        if self.on_arrival is not None:
            for rcpt in envelope.rcpt_tos:
                self.on_arrival(rcpt.lower(), arrival)
        return "250 OK"

    def first(self, rcpt: str, subject_part: str) -> Arrival | None:
        with self.lock:
            for arrival in self.arrivals.get(rcpt.lower(), []):
                if subject_part in arrival.subject:
                    return arrival
        return None

    def start(self) -> TimedSink:
        self.controller = Controller(self, hostname=self.host, port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


@contextmanager
def running_stack(
    name: str, pg: str, rd: str, work: Path, sink: TimedSink, extra_env: dict[str, str]
) -> Iterator[Stack]:
    """The whole system as real processes on fresh databases, mailing to `sink`."""
    stack = Stack(
        StackConfig(
            postgres_url=pg,
            redis_url=rd,
            smtp_host=sink.host,
            smtp_port=sink.port,
            var_dir=work / "stack",
            gateway_port=free_port(),
            database_prefix=f"bench_{name}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_",
            fresh_databases=True,
            echo=False,
            extra_env={"RATE_LIMITS": "off", **extra_env},
        )
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        for key, url in stack.env.items():
            if key.endswith("_DATABASE_URL") and "/bench_" in url:
                drop_database(pg, url)


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (empty once it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (0 once it is gone)."""
    total = 0
    for proc in process_tree(pid):
        with suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


def tree_cpu(pid: int) -> float:
    """User and system CPU seconds of a process and all its descendants so far."""
    total = 0.0
    for proc in process_tree(pid):
        with suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


#: The comparisons a RESULT line's target may use, longest first so that ">=" is not read as ">".
_TARGET = re.compile(r"(>=|<=|>|<)(-?[0-9.]+)")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda value, bound: value >= bound,
    "<=": lambda value, bound: value <= bound,
    ">": lambda value, bound: value > bound,
    "<": lambda value, bound: value < bound,
}


def result(name: str, value: float, unit: str, target: str) -> bool:
    """Print one figure as the issue's closing line and say whether it met its target.

    `RESULT <name> <value> <unit> <target> met|not met`, e.g. `result("search_worst_p95_ms",
    10.3, "ms", "<20")` prints `RESULT search_worst_p95_ms 10.3 ms <20 met`. The target is a
    comparison and a number (`>=2000`, `<20`, `<=1024`); a value that is not a number (no
    figure could be measured: NaN, infinity) never meets it. Every benchmark ends with these
    lines, one per figure, so that a run's verdicts can be read (or grepped) in one place.
    """
    matched = _TARGET.fullmatch(target)
    if matched is None:
        raise ValueError(f"target {target!r} is not a comparison and a number (e.g. >=2000)")
    op, bound = matched.groups()
    met = math.isfinite(value) and _COMPARE[op](value, float(bound))
    shown = f"{value:.0f}" if math.isfinite(value) and abs(value) >= 1000 else f"{value:.4g}"
    print(f"RESULT {name} {shown} {unit} {target} {'met' if met else 'not met'}", flush=True)
    return met


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    mem = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB; load average {load}"


def drop_database(server_url: str, url: str) -> None:
    """Drop a database a benchmark made (its connections closed first)."""
    import psycopg
    from sqlalchemy.engine import make_url
    from uskalla_devstack.servers import with_database

    name = make_url(url).database
    admin = make_url(with_database(server_url, "postgres")).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
