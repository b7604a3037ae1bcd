"""Soak: mixed traffic through the gateway for a long while, memory of every process sampled.

The whole system runs as real processes (uskalla_devstack Stack, RATE_LIMITS=off) mailing to a
local SMTP sink in this process. Traffic, all through the gateway: reads (experiments list and
search, one experiment with its comments, themes, municipalities, gatherings), joins whose
confirmation links are followed from the e-mails, members signed in through the real sign-in
link mails, comments by those members, and a newsletter sent by a coordinator (one of
BOOTSTRAP_COORDINATORS) half-way through. Every 30 s the resident memory (RSS) of each
process, its children included (gunicorn and Celery pools), is sampled with psutil. Growth is
measured from the first sample after the warm-up (default 2 minutes) to the last one, so
imports, pools and caches filling at start do not count. Target: under 10% for every process.

    .venv/bin/python bench/bench_soak.py [--minutes 30] [--warmup 2]
"""

from __future__ import annotations

import argparse
import queue
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from common import (
    CONFIRM_SUBJECT,
    SIGN_IN_SUBJECT,
    Arrival,
    TimedSink,
    machine,
    running_stack,
    servers,
    tree_rss,
)

COORDINATOR = "koordinaattori@bench.example.fi"
READS_PER_S, JOINS_PER_S, COMMENTS_PER_S = 8.0, 1.0, 0.5
SIGN_IN_EVERY = 3  # every third confirmed member signs in and starts commenting
SAMPLE_EVERY = 30.0


class Traffic:
    """The traffic generators and what they saw."""

    def __init__(self, gateway: str, sink: TimedSink) -> None:
        self.gateway = gateway
        self.sink = sink
        self.stop = threading.Event()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.errors: list[str] = []
        self.mail: queue.Queue[tuple[str, Arrival]] = queue.Queue()
        self.tokens: list[str] = []  # signed-in members' access tokens
        self.experiments: list[str] = []
        self.joined = self.confirmed = self.signed_in = 0
        self.lock = threading.Lock()
        self.local = threading.local()

    def call(self, label: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        http = getattr(self.local, "http", None)
        if http is None:
            http = self.local.http = requests.Session()
        try:
            answer = http.request(method, self.gateway + path, timeout=30, **kwargs)
        except requests.RequestException as exc:
            with self.lock:
                self.statuses[(label, 0)] += 1
                self.errors.append(f"{label}: {exc!r}"[:300])
            return None
        with self.lock:
            self.statuses[(label, answer.status_code)] += 1
            if answer.status_code >= 500:
                self.errors.append(f"{label}: {answer.status_code} {answer.text[:200]}")
        return answer

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    # -- the mail-driven steps: confirm joins, exchange sign-in links for tokens -------------
    def on_arrival(self, rcpt: str, arrival: Arrival) -> None:
        if arrival.raw is not None:
            self.mail.put((rcpt, arrival))

    def mail_reactor(self) -> None:
        while not self.stop.is_set():
            try:
                rcpt, arrival = self.mail.get(timeout=0.5)
            except queue.Empty:
                continue
            if CONFIRM_SUBJECT in arrival.subject:
                answer = self.call("confirm", "POST", "/api/v1/members/confirm",
                                   json={"token": arrival.token()})  # fmt: skip
                if answer is not None and answer.status_code == 200:
                    self.confirmed += 1
                    if rcpt != COORDINATOR and self.confirmed % SIGN_IN_EVERY == 0:
                        self.call("sign-in", "POST", "/api/v1/auth/sign-in", json={"email": rcpt})
            elif SIGN_IN_SUBJECT in arrival.subject:
                answer = self.call("token", "POST", "/api/v1/auth/token",
                                   json={"token": arrival.token()})  # fmt: skip
                if answer is not None and answer.status_code == 200:
                    with self.lock:
                        self.tokens.append(answer.json()["access_token"])
                        self.signed_in += 1

    # -- paced generators ------------------------------------------------------------------
    def paced(self, per_second: float, step: Any) -> None:
        """Call step() at fixed times, per_second times a second, until stopped."""
        interval, due = 1.0 / per_second, time.monotonic()
        while not self.stop.is_set():
            step()
            due += interval
            self.stop.wait(max(0.0, due - time.monotonic()))

    def read(self) -> None:
        choice = random.random()
        if choice < 0.3:
            self.call("experiments", "GET", "/api/v1/experiments?per_page=20")
        elif choice < 0.45:
            q = random.choice(["kirjasto", "digi", "hankinta", "terveys", "kokeilu"])
            self.call("search", "GET", f"/api/v1/experiments?q={q}&sort=relevance")
        elif choice < 0.65 and self.experiments:
            one = random.choice(self.experiments)
            self.call("experiment", "GET", f"/api/v1/experiments/{one}")
            self.call("comments", "GET", f"/api/v1/experiments/{one}/comments")
        elif choice < 0.75:
            self.call("themes", "GET", "/api/v1/themes")
        elif choice < 0.85:
            self.call("municipalities", "GET", "/api/v1/municipalities")
        else:
            self.call("gatherings", "GET", "/api/v1/gatherings")

    def join(self, email: str | None = None) -> None:
        with self.lock:
            self.joined += 1
            n = self.joined
        email = email or f"soak-{n}-{random.randrange(10**9)}@bench.example.fi"
        self.call("join", "POST", "/api/v1/members", json={
            "email": email, "name": f"Soak Jäsen {n}", "organisation": "Espoon kaupunki",
            "municipality_code": "049", "language": "fi",
            "newsletter": True, "invitations": False, "consent": True,
        })  # fmt: skip

    def comment(self) -> None:
        with self.lock:
            token = random.choice(self.tokens) if self.tokens else None
        if token and self.experiments:
            one = random.choice(self.experiments)
            self.call("comment", "POST", f"/api/v1/experiments/{one}/comments",
                      json={"body": f"Hyvä kokeilu! Kokemuksia meiltä: {random.random()}"},
                      headers=self.bearer(token))  # fmt: skip


def coordinator_token(traffic: Traffic, timeout: float = 60) -> str:
    """Join, confirm and sign in as the bootstrap coordinator through the real e-mails."""
    traffic.join(COORDINATOR)
    deadline = time.monotonic() + timeout
    while traffic.confirmed == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the coordinator was not confirmed: {traffic.statuses}")
        time.sleep(0.1)
    traffic.call("sign-in", "POST", "/api/v1/auth/sign-in", json={"email": COORDINATOR})
    while not traffic.tokens:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the coordinator was not signed in: {traffic.statuses}")
        time.sleep(0.1)
    return traffic.tokens.pop()


def seed(traffic: Traffic, token: str) -> None:
    """Published experiments and gatherings for the readers and commenters."""
    auth = traffic.bearer(token)
    for i in range(20):
        made = traffic.call("create", "POST", "/api/v1/experiments", headers=auth, json={
            "title": f"Kirjaston itsepalvelukokeilu {i}", "kind": "experiment",
            "summary": "Kirjasto auki iltaisin ilman henkilökuntaa, digi-palveluna.",
            "scale": "small", "themes": ["digital-municipality"],
            "municipality_codes": ["049"], "organisation": "Espoon kaupunki",
        })  # fmt: skip
        if made is not None and made.status_code == 201:
            one = made.json()["id"]
            traffic.call("publish", "POST", f"/api/v1/experiments/{one}/publish", headers=auth)
            traffic.experiments.append(one)
    starts = datetime.now(UTC) + timedelta(days=30)
    for i in range(3):
        made = traffic.call("create", "POST", "/api/v1/gatherings", headers=auth, json={
            "title": f"Kokeilufoorumi {i}", "kind": "forum", "description": "Tervetuloa!",
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "location": "Kuntatalo, Helsinki", "language": "fi",
        })  # fmt: skip
        if made is not None and made.status_code == 201:
            traffic.call("publish", "POST", f"/api/v1/gatherings/{made.json()['id']}/publish",
                         headers=auth)  # fmt: skip


def send_newsletter(traffic: Traffic, token: str) -> str | None:
    auth = traffic.bearer(token)
    draft = traffic.call("newsletter", "POST", "/api/v1/newsletters", headers=auth, json={
        "subject": "Soak-uutiskirje", "body": "# Hei verkosto\n\nKevään **kokeilut**.",
    })  # fmt: skip
    if draft is None or draft.status_code != 201:
        return None
    one = str(draft.json()["id"])
    traffic.call("newsletter", "POST", f"/api/v1/newsletters/{one}/send", headers=auth)
    return one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="minutes before growth counts")
    args = parser.parse_args()
    duration, warmup = args.minutes * 60, min(args.warmup * 60, args.minutes * 20)

    sink = TimedSink(keep_bodies=(CONFIRM_SUBJECT, SIGN_IN_SUBJECT)).start()
    with servers("soak") as (pg, rd, work):
        env = {"BOOTSTRAP_COORDINATORS": COORDINATOR}
        with running_stack("soak", pg, rd, work, sink, env) as stack:
            traffic = Traffic(stack.gateway_url, sink)
            sink.on_arrival = traffic.on_arrival
            threads = [threading.Thread(target=traffic.mail_reactor, daemon=True)]
            threads[0].start()
            token = coordinator_token(traffic)
            seed(traffic, token)
            print(
                f"seeded {len(traffic.experiments)} experiments; soaking {args.minutes} min "
                f"(growth measured after {warmup / 60:.1f} min); {machine()}",
                flush=True,
            )
            generators = [
                (READS_PER_S / 2, traffic.read),
                (READS_PER_S / 2, traffic.read),
                (JOINS_PER_S, traffic.join),
                (COMMENTS_PER_S, traffic.comment),
            ]
            for rate, step in generators:
                threads.append(
                    threading.Thread(target=traffic.paced, args=(rate, step), daemon=True)
                )
                threads[-1].start()

            samples: dict[str, list[tuple[float, int]]] = {p.name: [] for p in stack}
            began, newsletter = time.monotonic(), None
            while (elapsed := time.monotonic() - began) < duration:
                for process in stack:
                    samples[process.name].append((elapsed, tree_rss(process.pid)))
                if newsletter is None and elapsed >= warmup + (duration - warmup) / 2:
                    newsletter = send_newsletter(traffic, token) or "failed"
                total = sum(s[-1][1] for s in samples.values()) / 2**20
                print(
                    f"  {elapsed / 60:5.1f} min: {total:7.1f} MiB in all; joined {traffic.joined},"
                    f" confirmed {traffic.confirmed}, signed in {traffic.signed_in};"
                    f" {machine().split('; ')[1]}",
                    flush=True,
                )
                time.sleep(min(SAMPLE_EVERY, max(0.0, duration - elapsed)))
            for process in stack:
                samples[process.name].append((time.monotonic() - began, tree_rss(process.pid)))
            traffic.stop.set()
            for thread in threads:
                thread.join(10)
            progress = None
            if newsletter and newsletter != "failed":
                shown = traffic.call("newsletter", "GET", f"/api/v1/newsletters/{newsletter}",
                                     headers=traffic.bearer(token))  # fmt: skip
                progress = shown.json() if shown is not None and shown.status_code == 200 else None
    sink.stop()
    report(samples, warmup, traffic, progress)


def report(
    samples: dict[str, list[tuple[float, int]]],
    warmup: float,
    traffic: Traffic,
    newsletter: dict[str, Any] | None,
) -> None:
    mib = 2**20
    print(f"\nRSS per process (incl. children), MiB; growth from the first sample after "
          f"{warmup / 60:.1f} min to the last (target < 10%)")  # fmt: skip
    print(f"{'process':>22} {'start':>7} {'warm':>7} {'last':>7} {'peak':>7} {'growth':>7}")
    worst = 0.0
    for name, series in samples.items():
        warm = next((rss for t, rss in series if t >= warmup), series[-1][1])
        last, peak, start = series[-1][1], max(r for _, r in series), series[0][1]
        growth = 100 * (last - warm) / warm if warm else 0.0
        worst = max(worst, growth)
        print(f"{name:>22} {start / mib:7.1f} {warm / mib:7.1f} {last / mib:7.1f} "
              f"{peak / mib:7.1f} {growth:+6.1f}%")  # fmt: skip
    print(f"worst growth {worst:+.1f}% ({'under' if worst < 10 else 'OVER'} the 10% target)")
    print(f"joins {traffic.joined}, confirmed {traffic.confirmed}, signed in {traffic.signed_in},"
          f" mails at the sink {traffic.sink.count}")  # fmt: skip
    if newsletter:
        print(f"newsletter: {newsletter['status']} {newsletter['progress']}")
    by_label: dict[str, Counter[int]] = {}
    for (label, status), n in sorted(traffic.statuses.items()):
        by_label.setdefault(label, Counter())[status] = n
    print("requests: " + "; ".join(f"{k} {dict(v)}" for k, v in by_label.items()))
    print(f"5xx or connection errors: {len(traffic.errors)}")
    for line in traffic.errors[:10]:
        print(f"  {line}")


if __name__ == "__main__":
    main()
