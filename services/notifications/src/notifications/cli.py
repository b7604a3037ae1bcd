"""The `notifications` command: api, worker, relay, migrate, and operators' commands."""

from __future__ import annotations

from uskalla_kit.cli import service_cli

from notifications.bootstrap import build_runtime

cli = service_cli("notifications", build_runtime)


def main() -> None:
    cli()
