"""Sending a fan-out's rows in batches over one SMTP connection, exactly once each.

Rows are claimed a handful at a time with a fencing token (`claimed_by`) and a lease. After a
message's whole text went to the server, its row is marked sent in an open transaction, on the
condition that this chain still holds its claim; if the claim was lost or cancelled, the
connection is dropped without the final "." and the server discards the message. Otherwise
the dot is written and the mark committed right behind it (`PendingCommit`). A killed worker
never loses a message: its claimed rows return to the pool when the lease ends and the rows
not marked are sent again; only a kill between the dot and the COMMIT sends one twice, with
the same Message-ID.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from notifications.adapters.composer import LIST_OF_KIND, Composer, Outgoing
from notifications.adapters.finalcommit import PendingCommit
from notifications.adapters.mailer import (
    ConnectionMailError,
    Mailer,
    PermanentMailError,
    TemporaryMailError,
)
from notifications.adapters.ratelimit import RateLimiter
from notifications.config import Settings
from notifications.service_layer.deliveries import Deliveries, backoff

log = logging.getLogger(__name__)

#: Consecutive temporary failures after which a chain pauses instead of trying every row.
PAUSE_AFTER = 3

CLAIM = """
WITH picked AS (
    SELECT d.id, r.name, coalesce(r.active AND r.{list}, false) AS wants,
           EXISTS (SELECT 1 FROM suppressions s WHERE s.suppressed_at IS NOT NULL
                   AND s.email_hash = encode(sha256(convert_to(d.email, 'UTF8')), 'hex'))
               AS suppressed
    FROM deliveries d LEFT JOIN recipients r ON r.member_id = d.member_id
    WHERE d.cause = CAST(:cause AS varchar) AND d.kind = CAST(:kind AS varchar)
      AND (d.status = 'pending' OR (d.status = 'sending' AND d.claimed_until < now()))
    LIMIT :n FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d SET status = 'sending', claimed_by = CAST(:me AS uuid),
       claimed_until = now() + make_interval(secs => :lease)
FROM picked WHERE d.id = picked.id
RETURNING d.id, d.email, d.language, d.message_id, d.member_id, d.context, d.attempts,
          picked.name, picked.wants, picked.suppressed
"""

#: Only the chain that holds the claim may record an outcome (a fencing token).
MARK = """
UPDATE deliveries SET status = CAST(:status AS varchar), attempts = attempts + :tried,
       error = CAST(:error AS text),
       sent_at = CASE WHEN CAST(:status AS varchar) = 'sent' THEN now() ELSE sent_at END,
       next_attempt_at = CAST(:next_attempt_at AS timestamptz), enqueued_at = now()
WHERE id = :id AND claimed_by = CAST(:me AS uuid) AND status = CAST(:was AS varchar)
"""

#: MARK for a message about to be sent, in psycopg's parameters (run in the open transaction
#: that commits right behind the final dot).
MARK_SENT = """
UPDATE deliveries SET status = 'sent', attempts = attempts + 1, error = NULL, sent_at = now(),
       next_attempt_at = NULL, enqueued_at = now()
WHERE id = %(id)s AND claimed_by = %(me)s AND status = 'sending'
"""

RELEASE = """
UPDATE deliveries SET status = 'pending', claimed_by = NULL, claimed_until = NULL
WHERE claimed_by = CAST(:me AS uuid) AND status = 'sending'
"""


class ClaimLost(Exception):
    """Another chain took the row over (our lease ran out) or the send was cancelled."""


@dataclass(frozen=True)
class Batch:
    """What every row of one fan-out's batch shares."""

    kind: str
    cause: str
    source: dict[str, Any]


class BatchSender:
    def __init__(
        self,
        settings: Settings,
        composer: Composer,
        deliveries: Deliveries,
        limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.composer = composer
        self.deliveries = deliveries
        self.limiter = limiter

    def send(self, conn: Connection, batch: Batch) -> str:
        """Up to a batch of messages over one connection: 'more', 'done' or 'paused'.

        `conn` is an autocommit connection (each mark is its own short transaction)."""
        me = str(uuid.uuid4())
        claim = text(CLAIM.format(list=LIST_OF_KIND[batch.kind]))
        sent = failures = 0
        with Mailer(self.settings) as mailer:
            try:
                while sent < self.settings.list_batch_size:
                    rows = (
                        conn.execute(
                            claim,
                            {
                                "kind": batch.kind,
                                "cause": batch.cause,
                                "me": me,
                                "n": min(
                                    self.settings.list_claim_size,
                                    self.settings.list_batch_size - sent,
                                ),
                                "lease": self.settings.list_lease,
                            },
                        )
                        .mappings()
                        .all()
                    )
                    if not rows:
                        return "done"
                    for row in rows:
                        self.limiter.wait()
                        outcome = self._one(conn, mailer, batch, me, row)
                        sent += 1
                        failures = failures + 1 if outcome == "retrying" else 0
                        if failures >= PAUSE_AFTER:
                            return "paused"
                return "more"
            finally:
                conn.execute(text(RELEASE), {"me": me})  # claimed but not tried: back to pending

    def _one(self, conn: Connection, mailer: Mailer, batch: Batch, me: str, row: Any) -> str:
        def mark(
            status: str,
            *,
            tried: int,
            error: str | None,
            was: str = "sending",
            next_attempt_at: datetime | None = None,
        ) -> bool:
            result = conn.execute(
                text(MARK),
                {
                    "id": row["id"],
                    "me": me,
                    "status": status,
                    "tried": tried,
                    "error": error,
                    "was": was,
                    "next_attempt_at": next_attempt_at,
                },
            )
            return bool(result.rowcount)

        if row["suppressed"] or not row["wants"]:
            status = "suppressed" if row["suppressed"] else "skipped"
            mark(
                status,
                tried=0,
                error="the address is suppressed (bounced)"
                if row["suppressed"]
                else f"no longer subscribed to {LIST_OF_KIND[batch.kind]}",
            )
            return status
        item = Outgoing(
            id=row["id"],
            kind=batch.kind,
            email=row["email"],
            language=row["language"],
            cause=batch.cause,
            message_id=row["message_id"],
            member_id=row["member_id"],
            context=row["context"] or {},
            name=row["name"],
        )
        message = self.composer.wire(item, batch.source)

        marked: list[bool] = []
        open_marks: list[PendingCommit] = []

        def mark_sent() -> Callable[[], None]:
            commit, marked_rows = PendingCommit.begin_with(
                conn, MARK_SENT, {"id": row["id"], "me": uuid.UUID(me)}
            )
            if not marked_rows:
                commit.rollback()
                raise ClaimLost(str(row["id"]))
            open_marks.append(commit)

            def after_the_dot() -> None:
                commit.commit()
                marked.append(True)

            return after_the_dot

        try:
            mailer.send(
                message,
                before_final=mark_sent,
                envelope_from=self.deliveries.verp.address(row["id"]),
                recipients=[item.email],
            )
            return "sent"
        except ClaimLost:
            log.warning("claim lost; the message was dropped unsent", extra={"id": str(row["id"])})
            return "lost"
        except ConnectionMailError:
            raise  # nothing reached the server: the row goes back to pending with the rest
        except (TemporaryMailError, PermanentMailError) as exc:
            if open_marks and not marked:
                open_marks[0].rollback()  # the dot never went: not sent
            # Refused before the final dot (still 'sending') or at it (already marked 'sent').
            was, tried = ("sent", 0) if marked else ("sending", 1)
            attempts = row["attempts"] + 1
            error = str(exc)[:2000]
            if isinstance(exc, PermanentMailError) or attempts >= self.settings.mail_max_attempts:
                mark("failed", tried=tried, error=error, was=was)
                if isinstance(exc, PermanentMailError):
                    with self.deliveries.db.transaction() as session:
                        self.deliveries.refused(session, row["id"], row["email"], exc)
                return "failed"
            delay = backoff(attempts)
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
            if mark("retrying", tried=tried, error=error, was=was, next_attempt_at=retry_at):
                self.deliveries.enqueue(str(row["id"]), delay)
            return "retrying"
