"""The delivery log is kept for `DELIVERY_RETENTION_DAYS`: older rows are purged in batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from uskalla_events import Database

from notifications.adapters.models import Delivery
from notifications.config import Settings

log = logging.getLogger(__name__)

#: Rows deleted per transaction: short locks, whatever the backlog.
PURGE_BATCH = 1000


def purge_deliveries(db: Database, older_than: datetime, batch_size: int = PURGE_BATCH) -> int:
    """Delete deliveries created before `older_than`, a batch per transaction; how many."""
    removed = 0
    while True:
        batch = (
            select(Delivery.id)
            .where(Delivery.created_at < older_than)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        with db.transaction() as session:
            done = len(
                session.scalars(
                    delete(Delivery)
                    .where(Delivery.id.in_(batch.scalar_subquery()))
                    .returning(Delivery.id)
                ).all()
            )
        removed += done
        if done < batch_size:
            return removed


def retention_job(db: Database, settings: Settings) -> Callable[[], int]:
    """A relay job: purge the delivery log at most every `HOUSEKEEPING_INTERVAL_SECONDS` (the
    relay beats every second); returns how many deliveries it removed."""
    last = [float("-inf")]

    def purge() -> int:
        if time.monotonic() - last[0] < settings.housekeeping_interval:
            return 0
        last[0] = time.monotonic()
        cutoff = datetime.now(UTC) - timedelta(days=settings.delivery_retention_days)
        removed = purge_deliveries(db, cutoff)
        if removed:
            log.info("purged deliveries past their retention", extra={"count": removed})
        return removed

    return purge
