"""The outbox relay: sweeps up events that were not published right after commit."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

import psycopg
from psycopg import sql

from uskalla_events.db import Database
from uskalla_events.outbox import Outbox

log = logging.getLogger(__name__)


class Relay:
    """Publishes pending outbox rows every `interval` seconds and purges old published rows.

    `jobs` are a service's own periodic sweeps (e.g. e-mail deliveries whose task was lost),
    run on the same beat so that one process per service does all the sweeping.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        interval: float = 1.0,
        grace: float = 2.0,
        retention: timedelta = timedelta(days=7),
        jobs: list[Callable[[], object]] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.interval = interval
        # Rows younger than this are left to the publish-after-commit of their own request.
        self.grace = grace
        self.retention = retention
        self.jobs = jobs or []
        self.heartbeat = heartbeat
        self._stop = threading.Event()
        self._wake = threading.Event()

    def wake(self) -> None:
        """Run the next beat now (work has arrived) instead of at the end of the interval."""
        self._wake.set()

    def run_once(self) -> int:
        sent = 0
        while True:
            batch = self.outbox.publish_pending(older_than=self.grace)
            sent += batch
            if batch < 500:
                break
        for job in self.jobs:
            try:
                job()
            except Exception:
                log.exception("relay job failed")
        return sent

    def run(self) -> None:
        if threading.current_thread() is threading.main_thread():  # a process's own relay
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        last_purge = 0.0
        log.info("relay started", extra={"interval": self.interval})
        while not self._stop.is_set():
            try:
                sent = self.run_once()
                if sent:
                    log.info("relay published", extra={"count": sent})
                if time.monotonic() - last_purge > 3600:
                    self.outbox.purge(self.retention)
                    last_purge = time.monotonic()
                if self.heartbeat:
                    self.heartbeat()
            except Exception:
                log.exception("relay sweep failed; trying again")
            self._wake.wait(self.interval)
            self._wake.clear()
        log.info("relay stopped")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def listen(self, db: Database, channels: tuple[str, ...]) -> threading.Thread:
        """Wake the relay whenever PostgreSQL notifies one of `channels` (a trigger's
        `pg_notify` on a table of work, sent at commit): work is acted on within milliseconds,
        not at the next beat. The beat stays the fallback: a notification lost while the
        listening connection was down is made good by the next beat (and each reconnection
        wakes the relay once)."""
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        thread = threading.Thread(
            target=self._listen, args=(url, channels), name="relay-listen", daemon=True
        )
        thread.start()
        return thread

    def _listen(self, url: str, channels: tuple[str, ...]) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                    for channel in channels:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.wake()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.wake()
            except psycopg.Error as exc:
                log.warning("relay wake-up listener lost; retrying", extra={"error": str(exc)})
                self._stop.wait(1.0)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()
