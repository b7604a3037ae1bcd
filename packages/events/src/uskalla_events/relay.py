"""The outbox relay: sweeps up events that were not published right after commit."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

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
            self._stop.wait(self.interval)
        log.info("relay stopped")

    def stop(self) -> None:
        self._stop.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()
