"""Transactional outbox: events are written with the state change, then published by a relay.

Right after the caller's commit its events are published from memory (no second read), and
the rows are marked published later, in a batch with others (`PublishedMarks`). The relay's
sweep publishes whatever is still unmarked after its grace period: an event whose after-commit
publish failed, or whose process died before its mark was written. In the second case the
event goes out twice, which idempotent consumers absorb.

Events of one type that are ready together travel in one broker message (at most
`MAX_BATCH`): those of one transaction, those committed by other threads while a publish was
in flight (`Combiner`), and the relay's. A lone event goes alone, at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from uskalla_events.batching import Batcher, Combiner
from uskalla_events.context import correlation_id
from uskalla_events.db import Database, after_commit
from uskalla_events.envelope import Envelope, new_envelope
from uskalla_events.payloads import Payload
from uskalla_events.tables import EventTables

log = logging.getLogger(__name__)

#: Publishes envelopes of one type, in order, as one message.
Publish = Callable[[list[dict[str, Any]]], None]
#: The most events one message carries.
MAX_BATCH = 100
#: Where a transaction keeps the events it will publish once it has committed.
COMMITTED = "uskalla.outbox.committed"


def runs(items: Sequence[Any], kind: Callable[[Any], str]) -> Iterator[list[Any]]:
    """Consecutive items of one kind, at most MAX_BATCH at a time, in their order."""
    run: list[Any] = []
    for item in items:
        if run and (kind(item) != kind(run[0]) or len(run) == MAX_BATCH):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


class Outbox:
    """Records events in the caller's transaction and publishes them once it has committed."""

    def __init__(self, db: Database, tables: EventTables, publish: Publish) -> None:
        self.db = db
        self.table = tables.outbox
        self.publish = publish
        self._sender: Combiner[dict[str, Any]] = Combiner(
            self._publish_committed, name="outbox-publish"
        )
        db.before_dispose(self._sender.flush)  # before the marks: its sends add marks
        self.marks = PublishedMarks(db, tables.outbox)
        self._insert = insert(self.table)

    def add(self, session: Session, payload: Payload) -> Envelope:
        """Write the event a payload belongs to in the session's transaction (its JSON form);
        publish it right after the commit."""
        envelope = new_envelope(payload, correlation_id=correlation_id.get())
        message = envelope.to_dict()
        session.execute(
            self._insert, {"id": envelope.id, "type": envelope.type, "envelope": message}
        )
        committed = session.info.get(COMMITTED)
        if committed is None:
            committed = session.info[COMMITTED] = []
            # Best effort for low latency; the relay's sweep publishes whatever this misses.
            after_commit(session, lambda: self._sender.add(session.info.pop(COMMITTED, [])))
        committed.append(message)
        return envelope

    def _publish_committed(self, messages: list[dict[str, Any]]) -> None:
        for run in runs(messages, lambda m: str(m["type"])):
            try:
                self.publish(run)
            except Exception:
                # The broker is away (publish has retried already): the rest waits for the relay.
                log.warning(
                    "publish after commit failed; the relay will publish the events",
                    extra={"events": len(messages)},
                    exc_info=True,
                )
                return
            for message in run:
                self.marks.add(message["id"])

    def publish_pending(self, *, limit: int = 500, older_than: float = 0) -> int:
        """Publish unpublished rows (oldest first) and mark them; return how many went out."""
        t = self.table
        query = (
            select(t.c.id, t.c.envelope)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if older_than:
            cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
            query = query.where(t.c.created_at < cutoff)
        with self.db.transaction() as session:
            rows = session.execute(query).all()
            sent: list[Any] = []
            try:
                for run in runs(rows, lambda r: str(r.envelope["type"])):
                    self.publish([row.envelope for row in run])
                    sent.extend(row.id for row in run)
            except Exception as exc:
                failed = rows[len(sent)].id
                session.execute(
                    update(t)
                    .where(t.c.id == failed)
                    .values(attempts=t.c.attempts + 1, last_error=repr(exc)[:2000])
                )
                log.warning("outbox publish failed", extra={"event_id": str(failed)})
            if sent:
                session.execute(
                    update(t).where(t.c.id.in_(sent)).values(published_at=datetime.now(UTC))
                )
        return len(sent)

    def purge(self, retention: timedelta) -> int:
        """Delete published rows older than the retention period (kept until then for replay)."""
        self.marks.flush()
        cutoff = datetime.now(UTC) - retention
        with self.db.transaction() as session:
            result = session.execute(delete(self.table).where(self.table.c.published_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def replay(self, *, since: datetime, event_type: str | None = None) -> int:
        """Mark kept rows unpublished again so the relay sends them once more."""
        self.marks.flush()  # a mark landing after the replay would undo it
        t = self.table
        stmt = update(t).where(t.c.created_at >= since).values(published_at=None)
        if event_type:
            stmt = stmt.where(t.c.type == event_type)
        with self.db.transaction() as session:
            result = session.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def pending_count(self) -> int:
        self._sender.flush()
        self.marks.flush()
        with self.db.transaction() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(self.table)
                    .where(self.table.c.published_at.is_(None))
                )
                or 0
            )


class PublishedMarks:
    """Marks rows published in batches: one UPDATE per flush instead of a transaction per event.

    The ids published during `interval` seconds are written together, with an asynchronous
    commit: a mark lost to a crash only means the relay publishes that event once more after
    its grace period, which idempotent consumers absorb.
    """

    def __init__(self, db: Database, table: Table, *, interval: float = 0.05) -> None:
        self.db = db
        self.table = table
        self._batch: Batcher[str] = Batcher(self._write, name="outbox-marks", interval=interval)
        self.add = self._batch.add
        self.flush = self._batch.flush
        db.before_dispose(self.flush)

    def _write(self, ids: list[str]) -> None:
        t = self.table
        with self.db.transaction() as session:
            session.execute(text("SET LOCAL synchronous_commit TO off"))
            session.execute(
                update(t)
                .where(t.c.id.in_(ids), t.c.published_at.is_(None))
                .values(published_at=func.now())
            )
