"""Receipts: each consumer confirms every event it holds, and the relay redelivers the rest.

A broker can lose a message a consumer had already taken: kombu's Redis transport pops it with
BRPOP before it records it as unacknowledged, so a consumer killed in between never sees it
again. The outbox therefore keeps each published event until every consuming service has
confirmed it (a receipt in Redis, written after the consumer's transaction committed), and the
relay sends it again, to that consumer's queue only, when a caught-up consumer has not.
Consumers are idempotent, so a redelivery is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from uskalla_events.batching import Batcher
from uskalla_events.contracts import CONTRACTS, queue_name
from uskalla_events.db import Database
from uskalla_events.redis_tls import redis_client
from uskalla_events.tables import EventTables

log = logging.getLogger(__name__)

PREFIX = "events.receipts:"
#: Receipts outlive the outbox's retention, after which nothing asks for them.
TTL = timedelta(days=8)


def receipt_key(event_id: str) -> str:
    return PREFIX + event_id


class Receipts:
    def __init__(self, redis_url: str, *, interval: float = 0.05) -> None:
        self.client = redis_client(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._batch: Batcher[tuple[str, str, str]] = Batcher(
            self._write, name="event-receipts", interval=interval
        )

    def confirm(self, service: str, event_id: str) -> None:
        """Record the receipt now."""
        self._write([(service, event_id, datetime.now(UTC).isoformat())])

    def confirm_soon(self, service: str, event_id: str) -> None:
        """Record the receipt with others within `interval`; lost in a crash, the event is
        redelivered and the consumer's inbox absorbs it."""
        self._batch.add((service, event_id, datetime.now(UTC).isoformat()))

    def flush(self) -> None:
        self._batch.flush()

    def _write(self, receipts: list[tuple[str, str, str]]) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            for service, event_id, at in receipts:
                key = receipt_key(event_id)
                pipe.hset(key, service, at)
                pipe.expire(key, TTL)
            pipe.execute()

    def confirmed_by(self, event_ids: Iterable[str]) -> dict[str, set[str]]:
        ids = list(event_ids)
        with self.client.pipeline(transaction=False) as pipe:
            for event_id in ids:
                pipe.hkeys(receipt_key(event_id))
            answers = pipe.execute()
        return {i: {k.decode() for k in keys} for i, keys in zip(ids, answers, strict=True)}

    def backlog(self, service: str) -> int:
        length: int = self.client.llen(queue_name(service))  # type: ignore[assignment]
        return length

    def close(self) -> None:
        self.flush()
        self.client.close()


class Redelivery:
    """The relay's sweep over published, not yet confirmed events."""

    def __init__(
        self,
        db: Database,
        tables: EventTables,
        receipts: Receipts,
        send: Any,
        *,
        after: float = 30.0,
        cap: float = 3600.0,
    ) -> None:
        self.db = db
        self.table = tables.outbox
        self.receipts = receipts
        self.send = send  # send(envelope, consumer_service)
        self.after = after
        self.cap = cap

    def due(self, redeliveries: int) -> timedelta:
        return timedelta(seconds=min(self.cap, self.after * 2**redeliveries))

    def sweep(self, limit: int = 500) -> tuple[int, int]:
        """Mark fully confirmed events; redeliver the missing ones. Returns (confirmed, resent)."""
        t = self.table
        now = datetime.now(UTC)
        confirmed: list[Any] = []
        resent = 0
        backlog: dict[str, int] = {}
        with self.db.transaction() as session:
            rows = session.execute(
                select(
                    t.c.id,
                    t.c.type,
                    t.c.envelope,
                    t.c.published_at,
                    t.c.redelivered_at,
                    t.c.redeliveries,
                )
                .where(
                    t.c.published_at.is_not(None),
                    t.c.confirmed_at.is_(None),
                    t.c.published_at < now - timedelta(seconds=self.after),
                )
                .order_by(t.c.published_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0, 0
            got = self.receipts.confirmed_by(str(r.id) for r in rows)
            for row in rows:
                contract = CONTRACTS.get(row.type)
                missing = set(contract.consumers if contract else ()) - got[str(row.id)]
                if not missing:
                    confirmed.append(row.id)
                    continue
                last = row.redelivered_at or row.published_at
                if now - last < self.due(row.redeliveries):
                    continue
                sent_now = self._resend(row, sorted(missing), backlog)
                if sent_now:
                    resent += sent_now
                    session.execute(
                        update(t)
                        .where(t.c.id == row.id)
                        .values(redelivered_at=now, redeliveries=t.c.redeliveries + 1)
                    )
            if confirmed:
                session.execute(update(t).where(t.c.id.in_(confirmed)).values(confirmed_at=now))
        return len(confirmed), resent

    def _resend(self, row: Any, consumers: list[str], backlog: dict[str, int]) -> int:
        """Send the event again to each consumer that is caught up yet has not confirmed it."""
        sent = 0
        for service in consumers:
            if service not in backlog:
                backlog[service] = self.receipts.backlog(service)
            if backlog[service]:
                continue  # that consumer is behind, not missing anything yet
            self.send(row.envelope, service)
            sent += 1
            log.warning(
                "event redelivered",
                extra={"event_id": str(row.id), "event_type": row.type, "consumer": service},
            )
        return sent
