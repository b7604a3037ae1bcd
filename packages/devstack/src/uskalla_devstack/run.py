"""`make dev`: the whole system on this machine, with embedded PostgreSQL, Redis and a mail sink
unless the environment points elsewhere. Ctrl-C stops everything; data stays under var/."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from uskalla_devstack.mail import MailSink
from uskalla_devstack.servers import EmbeddedPostgres, EmbeddedRedis
from uskalla_devstack.stack import SERVICES, Stack, StackConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--var", default="var", help="where data, logs and mail are kept")
    args = parser.parse_args()
    var = Path(args.var).resolve()
    stoppers: list[Any] = []
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack = Stack(start_servers(var, stoppers))
        stoppers.append(stack)
        stack.start()
        print(
            f"\nUskalla is running: {stack.gateway_url}/  (Ctrl-C stops everything)\n", flush=True
        )
        stop.wait()
    finally:
        print("stopping…", flush=True)
        for stopper in reversed(stoppers):
            try:
                stopper.stop()
            except Exception as exc:  # keep stopping the rest
                print(f"could not stop {stopper!r}: {exc}", flush=True)


def start_servers(var: Path, stoppers: list[Any]) -> StackConfig:
    """Embedded servers for whatever the environment does not point at; each added to stoppers."""
    given = {
        s: os.environ[f"{s.upper()}_DATABASE_URL"]
        for s in SERVICES
        if os.environ.get(f"{s.upper()}_DATABASE_URL")
    }
    postgres_url = ""
    if len(given) < len(SERVICES):
        embedded_pg = EmbeddedPostgres(var / "pg")
        stoppers.append(embedded_pg)
        postgres_url = embedded_pg.start()
        print(f"embedded PostgreSQL in {var / 'pg'}", flush=True)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded_redis = EmbeddedRedis(
            var / "redis", port=int(os.environ.get("DEV_REDIS_PORT", "6390"))
        )
        stoppers.append(embedded_redis)
        redis_url = embedded_redis.start()
        print(f"embedded Redis at {redis_url} (AOF in {var / 'redis'})", flush=True)
    smtp_host = os.environ.get("SMTP_HOST")
    smtp_port = int(os.environ.get("SMTP_PORT", "0") or 0)
    if not smtp_host:
        smtp_host, smtp_port = "127.0.0.1", int(os.environ.get("DEV_SMTP_PORT", "1025"))
        http_port = int(os.environ.get("DEV_MAIL_PORT", "8025"))
        stoppers.append(MailSink(var / "mail", smtp_host, smtp_port, http_port))
        print(
            f"mail sink: read captured mail at http://127.0.0.1:{http_port}/ "
            f"(files in {var / 'mail'})",
            flush=True,
        )
    return StackConfig(
        postgres_url=postgres_url,
        redis_url=redis_url,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        var_dir=var,
        gateway_port=int(os.environ.get("GATEWAY_PORT", "8080")),
        bounce_port=int(os.environ.get("BOUNCE_SMTP_PORT", "2526")),
        service_ports={"members": 8001, "experiments": 8002, "notifications": 8003},
        database_urls=given,
    )


if __name__ == "__main__":
    main()
