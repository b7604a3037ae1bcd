"""List mail to many: freeze the audience into delivery rows in batches, then send them in
batches over reused SMTP connections, at a limited rate, resumable after any crash."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Database, after_commit

from notifications.adapters.composer import LIST_OF_KIND, Outgoing
from notifications.adapters.mailer import ConnectionMailError
from notifications.adapters.models import Delivery, Fanout, Newsletter
from notifications.adapters.ratelimit import RateLimiter
from notifications.config import Settings
from notifications.domain.statuses import OPEN_DELIVERY, DeliveryStatus, NewsletterStatus
from notifications.service_layer.batches import Batch, BatchSender
from notifications.service_layer.deliveries import Deliveries

#: Rows not yet settled: waiting, being sent by a chain, or waiting for a retry.
OPEN = OPEN_DELIVERY

log = logging.getLogger(__name__)

FANOUT_TASK = "notifications.fanout_step"

FREEZE = """
WITH chunk AS (
    SELECT r.member_id, r.email, r.language FROM recipients r
    WHERE r.active AND r.{list}
      AND (CAST(:language AS varchar) = 'all' OR r.language = CAST(:language AS varchar))
      AND (cardinality(CAST(:codes AS text[])) = 0
           OR r.municipality_code = ANY(CAST(:codes AS text[])))
      AND (cardinality(CAST(:themes AS text[])) = 0
           OR r.themes ?| CAST(:themes AS text[]))
      AND (CAST(:cursor AS uuid) IS NULL OR r.member_id > CAST(:cursor AS uuid))
      AND NOT EXISTS (
          SELECT 1 FROM suppressions s WHERE s.suppressed_at IS NOT NULL
          AND s.email_hash = encode(sha256(convert_to(lower(r.email), 'UTF8')), 'hex'))
    ORDER BY r.member_id LIMIT :limit
), inserted AS (
    INSERT INTO deliveries (id, kind, member_id, email, language, cause, context, status,
                            attempts, message_id, enqueued_at)
    SELECT gen_random_uuid(), CAST(:kind AS varchar), member_id, lower(email), language,
           CAST(:cause AS varchar), '{{}}', 'pending', 0,
           '<' || gen_random_uuid() || '.' || CAST(:kind AS varchar) || '@'
               || CAST(:domain AS varchar) || '>',
           now()
    FROM chunk
    ON CONFLICT ON CONSTRAINT uq_deliveries_kind_email_cause DO NOTHING
)
SELECT (SELECT count(*) FROM chunk) AS n,
       (SELECT member_id FROM chunk ORDER BY member_id DESC LIMIT 1) AS last
"""


def now() -> datetime:
    return datetime.now(UTC)


class Fanouts:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        deliveries: Deliveries,
        enqueue: Callable[[str, float], None],
        limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.db = db
        self.deliveries = deliveries
        self.composer = deliveries.composer
        self.enqueue = enqueue
        self.limiter = limiter
        self.sender = BatchSender(settings, self.composer, deliveries, limiter)

    def start(self, session: Session, *, kind: str, cause: str, audience: dict[str, Any]) -> None:
        """Record a fan-out in the caller's transaction (once per kind and cause); run it after."""
        row = session.execute(
            insert(Fanout)
            .values(id=uuid.uuid4(), kind=kind, cause=cause, audience=audience, heartbeat_at=now())
            .on_conflict_do_nothing(constraint="uq_fanouts_kind_cause")
            .returning(Fanout.id)
        ).first()
        if row is not None:
            fanout_id = str(row.id)
            after_commit(session, lambda: self.enqueue(fanout_id, 0))

    # -- the batch task -------------------------------------------------------------------
    def step(self, fanout_id: str, *, chain: bool = True) -> str:
        """One batch: freeze the audience if that is not done, then send up to a batch."""
        with self.db.transaction() as session:
            fanout = session.get(Fanout, uuid.UUID(fanout_id))
            if fanout is None or fanout.finished_at or fanout.cancelled_at:
                return "done"
            frozen = fanout.frozen_at is not None
        if not frozen:
            if not self.freeze(fanout_id):
                return "done"
            for _ in range(self.settings.list_parallel - 1):  # more chains, each its own SMTP
                self.enqueue(fanout_id, 0)
        try:
            outcome = self.send_batch(fanout_id)
        except ConnectionMailError as exc:
            log.warning("SMTP unreachable; fan-out pauses", extra={"error": str(exc)})
            if chain:
                self.enqueue(fanout_id, self._pause())
            return "paused"
        if outcome == "more" and chain:
            self.enqueue(fanout_id, 0)
        elif outcome == "paused" and chain:
            self.enqueue(fanout_id, self._pause())
        return outcome

    def _pause(self) -> float:
        return min(60.0, max(1.0, self.settings.mail_requeue_after / 2))

    def freeze(self, fanout_id: str) -> bool:
        """Insert the audience's delivery rows chunk by chunk (resumable); False if cancelled."""
        while True:
            with self.db.transaction() as session:
                fanout = session.scalar(
                    select(Fanout).where(Fanout.id == uuid.UUID(fanout_id)).with_for_update()
                )
                if fanout is None or fanout.cancelled_at is not None:
                    return False
                if fanout.frozen_at is not None:
                    return True
                audience = fanout.audience
                result = session.execute(
                    text(FREEZE.format(list=LIST_OF_KIND[fanout.kind])),
                    {
                        "language": audience.get("language") or "all",
                        "codes": list(audience.get("municipality_codes") or []),
                        "themes": list(audience.get("themes") or []),
                        "cursor": str(fanout.cursor) if fanout.cursor else None,
                        "limit": self.settings.freeze_batch_size,
                        "kind": fanout.kind,
                        "cause": fanout.cause,
                        "domain": self.composer.domain,
                    },
                ).one()
                fanout.heartbeat_at = now()
                if result.last is not None:
                    fanout.cursor = result.last
                if result.n < self.settings.freeze_batch_size:
                    fanout.frozen_at = now()

    def send_batch(self, fanout_id: str) -> str:
        """Send up to a batch of pending rows over one SMTP connection; 'more' if any are left."""
        with self.db.transaction() as session:
            fanout = session.get(Fanout, uuid.UUID(fanout_id))
            if fanout is None or fanout.cancelled_at or fanout.finished_at:
                return "done"
            fanout.heartbeat_at = now()
            kind, cause = fanout.kind, fanout.cause
            source = self.composer.source(
                session, Outgoing(uuid.uuid4(), kind, "", "fi", cause, "")
            )
        engine = self.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            if not self.settings.list_sync_commit:
                conn.execute(text("SET synchronous_commit = off"))
            try:
                outcome = self.sender.send(conn, Batch(kind, cause, source))
            finally:
                if not self.settings.list_sync_commit:
                    conn.execute(text("RESET synchronous_commit"))  # for the pool's next user
        if outcome == "done":
            self.finish_if_done(fanout_id)
        return outcome

    # -- completion, cancelling, progress, sweeping ----------------------------------------
    def finish_if_done(self, fanout_id: str) -> bool:
        with self.db.transaction() as session:
            fanout = session.scalar(
                select(Fanout).where(Fanout.id == uuid.UUID(fanout_id)).with_for_update()
            )
            if fanout is None or fanout.finished_at or fanout.frozen_at is None:
                return False
            open_rows = session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.cause == fanout.cause,
                    Delivery.kind == fanout.kind,
                    Delivery.status.in_(OPEN),
                )
            )
            if open_rows:
                return False
            fanout.finished_at = now()
            if fanout.kind == "newsletter":
                session.execute(
                    update(Newsletter)
                    .where(
                        Newsletter.id == uuid.UUID(fanout.cause),
                        Newsletter.status == NewsletterStatus.SENDING,
                    )
                    .values(status=NewsletterStatus.SENT, finished_at=now())
                )
            return True

    def lock(self, session: Session, *, kind: str, cause: str) -> None:
        """Lock the fan-outs of a cause until the session ends (see `finish_if_done`'s order)."""
        session.execute(
            select(Fanout.id).where(Fanout.kind == kind, Fanout.cause == cause).with_for_update()
        )

    def cancel(self, session: Session, *, kind: str, cause: str) -> int:
        """Stop what has not been sent; a row being sent right now finishes first."""
        session.execute(
            update(Fanout)
            .where(Fanout.kind == kind, Fanout.cause == cause)
            .values(cancelled_at=func.coalesce(Fanout.cancelled_at, now()))
        )
        result = session.execute(
            update(Delivery)
            .where(Delivery.kind == kind, Delivery.cause == cause, Delivery.status.in_(OPEN))
            .values(status=DeliveryStatus.CANCELLED, error="cancelled before sending")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def sweep(self) -> int:
        """Restart fan-outs whose chains stopped (a killed worker); finish those that are done."""
        stale = now() - timedelta(seconds=self.settings.mail_requeue_after)
        with self.db.transaction() as session:
            ids = session.scalars(
                update(Fanout)
                .where(
                    Fanout.finished_at.is_(None),
                    Fanout.cancelled_at.is_(None),
                    Fanout.heartbeat_at < stale,
                )
                .values(heartbeat_at=now())
                .returning(Fanout.id)
            ).all()
        for fanout_id in ids:
            if not self.finish_if_done(str(fanout_id)):
                for _ in range(self.settings.list_parallel):
                    self.enqueue(str(fanout_id), 0)
        return len(ids)
