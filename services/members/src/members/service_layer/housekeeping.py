"""Periodic sweeps run by the relay process: expired pending members and spent sign-in links."""

from __future__ import annotations

import logging
from collections.abc import Callable

from uskalla_events import Database

from members.service_layer import Services

log = logging.getLogger(__name__)


def housekeeping_job(db: Database, services: Services) -> Callable[[], int]:
    """A relay job: one sweep, in its own transaction; the number of pending members removed."""

    def sweep() -> int:
        with db.transaction() as session:
            removed = services.personal_data.remove_expired_pending(session)
            services.sign_in.remove_spent(session)
        if removed:
            log.info("removed unconfirmed members", extra={"count": removed})
        return removed

    return sweep
