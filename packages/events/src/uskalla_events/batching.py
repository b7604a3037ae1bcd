"""Work that may lag a little and be lost in a crash, done in batches by a background thread.

Used for bookkeeping whose loss only causes a harmless repeat: marking outbox rows published
(lost: the relay publishes once more) and consumers' receipts (lost: the relay redelivers and
the inbox absorbs it). Batching turns one round trip per event into one per `interval`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Batcher(Generic[T]):
    """Collects items and hands them to `write` together, `interval` seconds after the first."""

    def __init__(self, write: Callable[[list[T]], None], *, name: str, interval: float) -> None:
        self.write = write
        self.name = name
        self.interval = interval
        self._pid = -1
        atexit.register(_flush_at_exit, weakref.ref(self))  # type: ignore[arg-type]

    def _start(self) -> None:
        """A fresh lock, list and thread for this process (also in a forked child)."""
        self._pid = os.getpid()
        self._items: list[T] = []
        self._wake = threading.Condition()
        self._writing = threading.Lock()
        threading.Thread(target=self._run, name=self.name, daemon=True).start()

    def add(self, item: T) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._wake:
            self._items.append(item)
            if len(self._items) == 1:
                self._wake.notify()

    def flush(self) -> None:
        """Write everything collected so far, now (raises what `write` raises)."""
        if self._pid != os.getpid():
            return
        with self._writing:
            with self._wake:
                items, self._items = self._items, []
            if items:
                self.write(items)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: bool(self._items))
            time.sleep(self.interval)  # let a batch gather
            try:
                self.flush()
            except Exception:
                log.warning("%s: a batch was not written", self.name, exc_info=True)


def _flush_at_exit(ref: weakref.ref[Batcher[object]]) -> None:
    batcher = ref()
    if batcher is not None:
        try:
            batcher.flush()
        except Exception:
            log.warning("%s: a batch was not written at exit", batcher.name, exc_info=True)
