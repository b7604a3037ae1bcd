"""Sign-up latency: POST /api/v1/members through the gateway → confirmation e-mail at the sink.

The whole system runs as real processes (uskalla_devstack Stack, RATE_LIMITS=off, otherwise
default settings) and mails to an SMTP server in this process that records, per recipient,
the moment each message's DATA is accepted. Joins are sent open-loop: each at its fixed time
(i / rate), from a pool of client threads, whether or not earlier answers came back, and each
e-mail's latency is counted from that scheduled time, so a slow system cannot slow the load.

1. 20 joins per second for a minute: p50/p95/p99 from join to confirmation e-mail.
2. Steps up the rate (20, 30, 40, 60, 80, 100, 120, 160/s, 20 s each) until a step loses an
   e-mail (none within 30 s of its last join) or its p95 exceeds 250 ms; the highest passing
   step is the highest rate held with p95 ≤ 250 ms and zero loss (goal: 100 joins/s).

Ends with RESULT lines: the sustained run's p95 and lost mails, and the highest passing step.

    .venv/bin/python bench/bench_signup.py   # BENCH_SIGNUP_SECONDS=60 BENCH_STEP_SECONDS=20
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from common import (
    CONFIRM_SUBJECT,
    TimedSink,
    machine,
    percentile,
    result,
    running_stack,
    servers,
)

SUSTAIN_RATE = float(os.environ.get("BENCH_SIGNUP_RATE", "20"))
SUSTAIN_SECONDS = float(os.environ.get("BENCH_SIGNUP_SECONDS", "60"))
STEPS = [float(r) for r in os.environ.get("BENCH_STEPS", "20,30,40,60,80,100,120,160").split(",")]
STEP_SECONDS = float(os.environ.get("BENCH_STEP_SECONDS", "20"))
DRAIN = float(os.environ.get("BENCH_DRAIN_SECONDS", "30"))  # after the last join
P95_LIMIT = 0.25  # seconds, join to confirmation e-mail: what a person waiting would accept
GOAL = 100  # joins/s
CLIENTS = 96  # enough threads that sending never waits for answers at these rates


@dataclass
class Run:
    """One paced run: when each join was due, how the API answered, when its mail came."""

    rate: float
    due: dict[str, float] = field(default_factory=dict)
    answers: Counter[int] = field(default_factory=Counter)
    answer_times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latencies(self, sink: TimedSink) -> tuple[list[float], int]:
        """Join-to-mail seconds for every delivered confirmation, and how many are missing."""
        found = [(sink.first(e, CONFIRM_SUBJECT), t) for e, t in self.due.items()]
        done = [a.at - t for a, t in found if a is not None]
        return done, len(found) - len(done)


def paced_joins(gateway: str, sink: TimedSink, rate: float, seconds: float, tag: str) -> Run:
    """Send rate * seconds joins at fixed times, then wait until every mail came or DRAIN."""
    run = Run(rate)
    local = threading.local()

    def join(email: str) -> None:
        http = getattr(local, "http", None) or requests.Session()
        local.http = http
        started = time.monotonic()
        try:
            status = http.post(
                f"{gateway}/api/v1/members",
                json={
                    "email": email,
                    "name": "Maija Meikäläinen",
                    "organisation": "Espoon kaupunki",
                    "municipality_code": "049",
                    "language": "fi",
                    "newsletter": True,
                    "invitations": False,
                    "consent": True,
                },
                timeout=30,
            ).status_code
        except requests.RequestException:
            status = 0
        with run.lock:
            run.answers[status] += 1
            run.answer_times.append(time.monotonic() - started)

    count = round(rate * seconds)
    with ThreadPoolExecutor(CLIENTS) as pool:
        began = time.monotonic()
        for i in range(count):
            due = began + i / rate
            time.sleep(max(0.0, due - time.monotonic()))
            email = f"{tag}-{i}-{uuid.uuid4().hex[:8]}@bench.example.fi"
            run.due[email] = due
            pool.submit(join, email)
        deadline = time.monotonic() + DRAIN
        while time.monotonic() < deadline:
            if all(sink.first(e, CONFIRM_SUBJECT) for e in run.due):
                break
            time.sleep(0.2)
    return run


def describe(run: Run, sink: TimedSink) -> tuple[float, int]:
    done, missing = run.latencies(sink)
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(run.answers.items()))
    line = f"{len(run.due)} joins at {run.rate:.0f}/s; answers {{{answers}}}"
    if run.answer_times:
        line += f", answer p50 {percentile(run.answer_times, 50) * 1000:.0f} ms"
        line += f" p99 {percentile(run.answer_times, 99) * 1000:.0f} ms"
    print(line)
    if not done:
        print(f"  no confirmation e-mail arrived; missing {missing}")
        return float("inf"), missing
    print(
        f"  join → confirmation e-mail: p50 {percentile(done, 50):.3f} s, "
        f"p95 {percentile(done, 95):.3f} s, p99 {percentile(done, 99):.3f} s, "
        f"max {max(done):.3f} s; missing after {DRAIN:.0f} s: {missing}"
    )
    return percentile(done, 95), missing


def main() -> None:
    print(f"sign-up: {machine()}", flush=True)
    sink = TimedSink().start()
    try:
        with (
            servers("signup") as (pg, rd, work),
            running_stack("signup", pg, rd, work, sink, {}) as stack,
        ):
            paced_joins(stack.gateway_url, sink, 5, 4, "warm")  # not counted
            print(f"\n1. sustained {SUSTAIN_RATE:.0f} joins/s for {SUSTAIN_SECONDS:.0f} s")
            sustained = paced_joins(stack.gateway_url, sink, SUSTAIN_RATE, SUSTAIN_SECONDS, "s")
            sustained_p95, sustained_lost = describe(sustained, sink)
            print(f"\n2. stepping up, {STEP_SECONDS:.0f} s per step (pass: nothing missing, "
                  f"p95 ≤ {P95_LIMIT * 1000:.0f} ms)")  # fmt: skip
            best = 0.0
            for rate in STEPS:
                run = paced_joins(stack.gateway_url, sink, rate, STEP_SECONDS, f"r{rate:.0f}")
                p95, missing = describe(run, sink)
                if missing or p95 > P95_LIMIT:
                    print(f"  step {rate:.0f}/s fails")
                    break
                best = rate
            top = " (the highest step tried)" if best == STEPS[-1] else ""
            print(f"\nhighest sustained rate with zero loss and p95 ≤ {P95_LIMIT * 1000:.0f} ms: "
                  f"{best:.0f} joins/s{top}")  # fmt: skip
            print(f"load average now: {machine().split('load average ')[1]}")
        at = f"{SUSTAIN_RATE:.0f}"
        result(f"signup_p95_at_{at}_per_s", sustained_p95 * 1000, "ms", f"<={P95_LIMIT * 1000:.0f}")
        result(f"signup_lost_at_{at}_per_s", sustained_lost, "mails", "<=0")
        result("signup_highest_rate_p95_250ms_zero_loss", best, "joins/s", f">={GOAL}")
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
