"""The `notifications` command: api, worker, relay, migrate, and operators' commands."""

from __future__ import annotations

import json
import sys

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
            result = record_bounce(session, runtime.events, **report)
        click.echo(json.dumps(result))


def main() -> None:
    cli()
