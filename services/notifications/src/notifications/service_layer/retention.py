"""What is kept only for a while: the delivery log for `DELIVERY_RETENTION_DAYS`, bounce rows
and kept bounce mail for `BOUNCE_RETENTION_DAYS`; older rows are purged in batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute
from uskalla_events import Database

from notifications.adapters.models import Bounce, BounceMail, Delivery
from notifications.config import Settings

log = logging.getLogger(__name__)

#: Rows deleted per transaction: short locks, whatever the backlog.
PURGE_BATCH = 1000


def purge_before(
    db: Database,
    id_column: InstrumentedAttribute[object],
    time_column: InstrumentedAttribute[datetime],
    older_than: datetime,
    batch_size: int = PURGE_BATCH,
) -> int:
    """Delete the rows of `id_column`'s table whose `time_column` is before `older_than`, a
    batch per transaction; how many."""
    table = id_column.class_
    removed = 0
    while True:
        batch = (
            select(id_column)
            .where(time_column < older_than)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        with db.transaction() as session:
            done = len(
                session.scalars(
                    delete(table).where(id_column.in_(batch.scalar_subquery())).returning(id_column)
                ).all()
            )
        removed += done
        if done < batch_size:
            return removed


def purge_deliveries(db: Database, older_than: datetime, batch_size: int = PURGE_BATCH) -> int:
    """Delete deliveries created before `older_than`; how many."""
    return purge_before(db, Delivery.id, Delivery.created_at, older_than, batch_size)


def purge_bounces(db: Database, older_than: datetime, batch_size: int = PURGE_BATCH) -> int:
    """Delete bounce rows and kept bounce mail received before `older_than`; how many. The
    suppressions stay (their counts and hash only)."""
    return purge_before(db, Bounce.id, Bounce.received_at, older_than, batch_size) + (
        purge_before(db, BounceMail.id, BounceMail.received_at, older_than, batch_size)
    )


def retention_job(db: Database, settings: Settings) -> Callable[[], int]:
    """A relay job: purge at most every `HOUSEKEEPING_INTERVAL_SECONDS` (the relay beats every
    second); returns how many rows it removed."""
    last = [float("-inf")]

    def purge() -> int:
        if time.monotonic() - last[0] < settings.housekeeping_interval:
            return 0
        last[0] = time.monotonic()
        now = datetime.now(UTC)
        deliveries = purge_deliveries(db, now - timedelta(days=settings.delivery_retention_days))
        bounces = purge_bounces(db, now - timedelta(days=settings.bounce_retention_days))
        if deliveries or bounces:
            log.info(
                "purged rows past their retention",
                extra={"deliveries": deliveries, "bounces": bounces},
            )
        return deliveries + bounces

    return purge
