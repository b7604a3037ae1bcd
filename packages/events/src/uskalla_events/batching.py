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
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Held while a batcher sets itself up in a process, so that two first callers make one set.
_starting = threading.Lock()


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
            _start_once(self)
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


def _start_once(batcher: Batcher[Any] | Combiner[Any]) -> None:
    with _starting:
        if batcher._pid != os.getpid():
            batcher._start()


def _flush_at_exit(ref: weakref.ref[Batcher[object] | Combiner[object]]) -> None:
    batcher = ref()
    if batcher is not None:
        try:
            batcher.flush()
        except Exception:
            log.warning("%s: a batch was not written at exit", batcher.name, exc_info=True)


class Combiner(Generic[T]):
    """Sends items at once from the caller's thread; what arrives meanwhile goes together.

    A caller finding no send in flight sends its items itself, before it returns (a lone event
    goes out with no thread in between). Items added while a send is in flight wait, and go in
    one `send` when it is done: by a background thread, so that no caller sends more than its
    own batch. That thread first waits `gather` seconds for more to join (there is load, or
    nothing would have been waiting). `send` must handle its own errors (whatever it raises is
    logged and dropped).
    """

    def __init__(
        self, send: Callable[[list[T]], None], *, name: str, gather: float = 0.002
    ) -> None:
        self.send = send
        self.name = name
        self.gather = gather
        self._pid = -1
        atexit.register(_flush_at_exit, weakref.ref(self))  # type: ignore[arg-type]

    def _start(self) -> None:
        """A fresh lock, list and thread for this process (also in a forked child)."""
        self._pid = os.getpid()
        self._items: list[T] = []
        self._busy = False  # a send is in flight, or handed over to the thread
        self._handed_over = False
        self._wake = threading.Condition()
        threading.Thread(target=self._run, name=self.name, daemon=True).start()

    def add(self, items: list[T]) -> None:
        if self._pid != os.getpid():
            _start_once(self)
        with self._wake:
            self._items.extend(items)
            if self._busy:
                return  # the send in flight hands these over when it is done
            self._busy = True
            batch, self._items = self._items, []
        self._send(batch)

    def _send(self, batch: list[T]) -> None:
        try:
            self.send(batch)
        except Exception:
            log.warning("%s: a batch was not sent", self.name, exc_info=True)
        finally:
            with self._wake:
                if self._items:
                    self._handed_over = True
                else:
                    self._busy = False
                self._wake.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything added so far has been sent (or `timeout` has passed)."""
        if self._pid != os.getpid():
            return
        with self._wake:
            self._wake.wait_for(lambda: not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._handed_over)
            time.sleep(self.gather)  # under load: let a few more join the batch
            with self._wake:
                self._handed_over = False
                batch, self._items = self._items, []
            self._send(batch)
