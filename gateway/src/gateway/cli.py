"""The `gateway` command."""

from __future__ import annotations

import click
from uskalla_kit.logs import configure_logging
from uskalla_kit.settings import env


@click.group(help="The gateway: the single front door.")
def cli() -> None:
    pass


@cli.command(help="Serve the gateway.")
@click.option("--host", default="0.0.0.0")  # noqa: S104 - containers listen on all interfaces
@click.option("--port", type=int, default=None, help="Default: GATEWAY_PORT or 8080.")
@click.option("--workers", type=int, default=1, envvar="WEB_WORKERS")
@click.option("--threads", type=int, default=16, envvar="WEB_THREADS")
def api(host: str, port: int | None, workers: int, threads: int) -> None:
    from uskalla_kit.processes import serve_api

    from gateway import create_app
    from gateway.config import Settings

    configure_logging("gateway", env("LOG_LEVEL", "INFO"))
    settings = Settings.from_env()
    serve_api(
        create_app(settings),
        host,
        port or settings.port,
        workers,
        threads,
        also_port=settings.metrics_port,
    )


def main() -> None:
    cli()
