"""kombu's Redis transport, minus two costs it pays on every publish.

kombu routes on the publisher's side: each publish to the topic exchange reads the exchange's
binding table from Redis (SMEMBERS) and matches the routing key against it, and every Redis
command the channel sends is issued through a newly built `redis.Redis` client object. Bindings
only ever grow here (every process declares the whole topology at start), so a table that has
bindings is kept for a few seconds; an empty one is read again every time, so an event is never
sent to the unroutable queue on stale knowledge. The channel's plain client is built once per
connection pool (`redis.Redis` is thread-safe; each command takes a pooled connection).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

#: Seconds a non-empty binding table is reused before it is read from Redis again.
TABLE_TTL = 5.0


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._tables: dict[str, tuple[float, Any]] = {}
        self._plain: tuple[Any, Any] | None = None
        super().__init__(*args, **kwargs)

    def get_table(self, exchange: str) -> Any:
        cached = self._tables.get(exchange)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        table = super().get_table(exchange)
        if table:
            self._tables[exchange] = (time.monotonic() + TABLE_TTL, table)
        return table

    def _queue_bind(self, exchange: str, *args: Any, **kwargs: Any) -> Any:
        self._tables.pop(exchange, None)
        return super()._queue_bind(exchange, *args, **kwargs)

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        if self._plain is None or self._plain[0] is not pool:
            self._plain = (pool, self._create_client())
        yield self._plain[1]


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel


#: For Celery's `broker_transport` (kombu resolves the dotted path).
TRANSPORT = f"{__name__}:Transport"
