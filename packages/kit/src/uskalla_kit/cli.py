"""The command line every service shares: api, worker, relay, migrate, dead letters, outbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from uskalla_kit.logs import configure_logging
from uskalla_kit.runtime import Runtime

RuntimeFactory = Callable[[], Runtime]


def service_cli(name: str, bootstrap: RuntimeFactory) -> click.Group:
    """A click group for one service; the service adds its own commands to it."""

    @click.group(name=name, help=f"The {name} service.")
    @click.pass_context
    def group(ctx: click.Context) -> None:
        ctx.obj = _Lazy(bootstrap)

    @group.command(help="Serve the HTTP API.")
    @click.option("--host", default="0.0.0.0")  # noqa: S104 - containers listen on all interfaces
    @click.option("--port", type=int, default=8000, envvar="PORT")
    @click.option("--workers", type=int, default=1, envvar="WEB_WORKERS")
    @click.option("--threads", type=int, default=8, envvar="WEB_THREADS")
    @click.pass_obj
    def api(lazy: _Lazy, host: str, port: int, workers: int, threads: int) -> None:
        from uskalla_kit.processes import serve_api

        runtime = lazy.get()
        serve_api(
            runtime.create_app(),
            host,
            port,
            workers,
            threads,
            also_port=runtime.settings.metrics_port,
        )

    @group.command(help="Run the Celery worker for this service's queues.")
    @click.option("--concurrency", type=int, default=4, envvar="WORKER_CONCURRENCY")
    @click.option("--heartbeat", default="/tmp/worker-heartbeat", envvar="WORKER_HEARTBEAT_FILE")  # noqa: S108
    @click.pass_obj
    def worker(lazy: _Lazy, concurrency: int, heartbeat: str) -> None:
        from uskalla_kit.processes import run_worker

        runtime = lazy.get()
        queues = [q.name for q in runtime.events.celery.conf.task_queues]
        _start(runtime, queues=queues)
        run_worker(runtime.events.celery, queues, concurrency, heartbeat or None)

    @group.command(help="Run the outbox relay (and the service's periodic sweeps).")
    @click.option("--heartbeat", default="/tmp/relay-heartbeat", envvar="RELAY_HEARTBEAT_FILE")  # noqa: S108
    @click.pass_obj
    def relay(lazy: _Lazy, heartbeat: str) -> None:
        runtime = lazy.get()
        _start(runtime, relay=True)
        runtime.events.relay(
            interval=runtime.settings.relay_interval,
            jobs=runtime.relay_jobs,
            heartbeat_file=heartbeat or None,
            wake_channels=runtime.relay_wake_channels,
        ).run()

    @group.command(help="Bring the database schema up to date (or, with --wait, wait for it).")
    @click.option(
        "--wait",
        is_flag=True,
        help="Change nothing: wait until the schema is at this image's head (an initContainer).",
    )
    @click.option("--timeout", type=float, default=600.0, envvar="MIGRATE_WAIT_TIMEOUT")
    @click.option("--interval", type=float, default=2.0, help="Seconds between looks.")
    @click.pass_obj
    def migrate(lazy: _Lazy, wait: bool, timeout: float, interval: float) -> None:
        from uskalla_kit.migrations import upgrade
        from uskalla_kit.processes import wait_for

        runtime = lazy.get()
        if wait:
            _wait_for_schema(runtime, timeout, interval)
            return
        wait_for(lambda: runtime.db.engine.connect().close(), "the database")
        upgrade(runtime.migrations, runtime.settings.database_url)
        click.echo(f"{name}: database is at head")

    @group.command(help="Autogenerate a migration from the models (developers).")
    @click.argument("message")
    @click.pass_obj
    def revision(lazy: _Lazy, message: str) -> None:
        from uskalla_kit.migrations import revision as make_revision

        runtime = lazy.get()
        make_revision(runtime.migrations, runtime.settings.database_url, message)

    @group.group(name="dead-letters", help="Events a handler could not process.")
    def dead_letters() -> None:
        pass

    @dead_letters.command(name="list")
    @click.option("--all", "include_retried", is_flag=True, help="Include retried ones.")
    @click.pass_obj
    def dl_list(lazy: _Lazy, include_retried: bool) -> None:
        for row in lazy.get().events.consumer.list_dead_letters(include_retried):
            click.echo(json.dumps(row, default=str))

    @dead_letters.command(name="retry")
    @click.argument("ids", nargs=-1, type=int)
    @click.option("--all", "retry_all", is_flag=True)
    @click.pass_obj
    def dl_retry(lazy: _Lazy, ids: tuple[int, ...], retry_all: bool) -> None:
        runtime = lazy.get()
        consumer = runtime.events.consumer
        chosen = [r["id"] for r in consumer.list_dead_letters()] if retry_all else list(ids)
        runtime.events.declare()
        for dead_letter_id in chosen:
            ok = consumer.retry_dead_letter(runtime.events.celery, dead_letter_id)
            click.echo(
                f"{dead_letter_id}: {'sent again' if ok else 'not found or already retried'}"
            )

    @group.group(help="The transactional outbox.")
    def outbox() -> None:
        pass

    @outbox.command(name="pending")
    @click.pass_obj
    def ob_pending(lazy: _Lazy) -> None:
        click.echo(lazy.get().events.outbox.pending_count())

    @outbox.command(name="replay", help="Publish kept events again (consumers ignore repeats).")
    @click.option("--hours", type=float, required=True, help="Replay events from the last N hours.")
    @click.option("--type", "event_type", default=None)
    @click.pass_obj
    def ob_replay(lazy: _Lazy, hours: float, event_type: str | None) -> None:
        since = datetime.now(UTC) - timedelta(hours=hours)
        count = lazy.get().events.outbox.replay(since=since, event_type=event_type)
        click.echo(f"{count} events marked for publishing again")

    return group


def _start(runtime: Runtime, *, queues: list[str] | None = None, relay: bool = False) -> None:
    """Wait for the broker, then serve the process's metrics: a worker's are its queues' depth
    and its tasks; a relay's, what the service's database holds (the outbox's lag, dead
    letters, the service's own readers)."""
    from uskalla_kit.metrics import EventMetrics, QueueMetrics, serve_metrics
    from uskalla_kit.processes import wait_for

    wait_for(runtime.events.declare, "the broker")

    settings = runtime.settings
    collectors: list[Any] = []
    if queues is not None:
        collectors.append(QueueMetrics(runtime.name, settings.redis_url, queues))
    if relay:
        events = runtime.events
        collectors.append(
            EventMetrics(runtime.name, runtime.db, events.tables, runtime.metric_readers)
        )
    serve_metrics(settings.metrics_port, *collectors)


def _wait_for_schema(runtime: Runtime, timeout: float, interval: float) -> None:
    """`migrate --wait`: exit 0 once the schema is at the image's head, 1 after `timeout`."""
    from uskalla_kit.migrations import wait_for_head

    try:
        state = wait_for_head(
            runtime.migrations, runtime.settings.database_url, timeout=timeout, interval=interval
        )
    except TimeoutError as exc:
        raise click.ClickException(f"{runtime.name}: {exc}") from exc
    click.echo(f"{runtime.name}: database is {state}")


class _Lazy:
    """Build the runtime only when a command needs it (nothing happens at import or --help)."""

    def __init__(self, factory: RuntimeFactory) -> None:
        self.factory = factory
        self.runtime: Runtime | None = None

    def get(self) -> Runtime:
        if self.runtime is None:
            self.runtime = self.factory()
            configure_logging(self.runtime.name, self.runtime.settings.log_level)
        return self.runtime
