"""The `notifications` command: api, worker, relay, migrate, and operators' commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click
from uskalla_kit.cli import service_cli

from notifications.bootstrap import build_runtime

cli = service_cli("notifications", build_runtime)


@cli.command(help="Record bounce reports: --email/--kind, or JSON lines on stdin.")
@click.option("--email", default=None, help="The bounced address.")
@click.option("--kind", type=click.Choice(["hard", "soft"]), default="hard")
@click.option("--reason", default="")
@click.pass_obj
def bounce(lazy: object, email: str | None, kind: str, reason: str) -> None:
    from notifications.entrypoints.schemas import BounceSchema
    from notifications.service_layer.suppressions import record_bounce

    runtime = lazy.get()  # type: ignore[attr-defined]
    reports = (
        [{"email": email, "kind": kind, "reason": reason}]
        if email
        else [json.loads(line) for line in sys.stdin if line.strip()]
    )
    for raw in reports:
        report = BounceSchema().load(raw)
        with runtime.db.transaction() as session:
            result = record_bounce(
                session,
                runtime.events,
                **report,
                soft_limit=runtime.extra["settings"].soft_bounce_limit,
            )
        click.echo(json.dumps(result))


@cli.command(help="Send the digests of the latest periods ended at --at (default: now), once.")
@click.option("--at", "moment", default=None, help="An aware ISO 8601 time (default: now).")
@click.pass_obj
def digests(lazy: object, moment: str | None) -> None:
    from datetime import UTC, datetime

    runtime = lazy.get()  # type: ignore[attr-defined]
    at = datetime.fromisoformat(moment) if moment else datetime.now(UTC)
    if at.tzinfo is None:
        raise click.BadParameter("give the time with its offset", param_hint="--at")
    try:
        scheduled = runtime.extra["services"].digests.run(at)
    finally:
        runtime.db.dispose()
    click.echo(json.dumps({"scheduled": scheduled}))


@cli.command(help="Run the bounce receiver: the SMTP server BOUNCE_DOMAIN's MX points at.")
@click.pass_obj
def bounces(lazy: object) -> None:
    import signal
    import threading

    from uskalla_kit.metrics import serve_metrics

    from notifications.entrypoints.bounce_server import bounce_server

    runtime = lazy.get()  # type: ignore[attr-defined]
    settings = runtime.extra["settings"]
    receiver = runtime.extra["services"].bounces
    receiver.receive = counted(receiver.receive)
    serve_metrics(settings.common.metrics_port)
    server = bounce_server(
        receiver,
        settings.bounce_smtp_host,
        settings.bounce_smtp_port,
        settings.bounce_max_size,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    click.echo(f"bounces: listening on {settings.bounce_smtp_host}:{settings.bounce_smtp_port}")
    try:
        stop.wait()
    finally:
        server.stop()
        runtime.db.dispose()


def counted(receive: Callable[[str, list[str], bytes], str]) -> Callable[..., str]:
    """The bounce receiver's `receive`, counting messages by what they reported."""
    from prometheus_client import Counter

    messages = Counter(
        "uskalla_bounce_messages", "Messages the bounce receiver recorded, by outcome", ["outcome"]
    )
    for outcome in ("hard", "soft", "complaint", "kept", "dropped"):
        messages.labels(outcome)

    def receive_and_count(mail_from: str, rcpt_tos: list[str], raw: bytes) -> str:
        outcome = receive(mail_from, rcpt_tos, raw)
        messages.labels(outcome).inc()
        return outcome

    return receive_and_count


def main() -> None:
    cli()
