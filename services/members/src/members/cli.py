"""The `members` command: api, worker, relay, migrate, and operators' commands."""

from __future__ import annotations

from uskalla_kit.cli import service_cli

from members.bootstrap import build_runtime

cli = service_cli("members", build_runtime)


def main() -> None:
    cli()
