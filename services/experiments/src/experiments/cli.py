"""The `experiments` command: api, worker, relay, migrate, and operators' commands."""

from __future__ import annotations

from uskalla_kit.cli import service_cli

from experiments.bootstrap import build_runtime

cli = service_cli("experiments", build_runtime)


def main() -> None:
    cli()
