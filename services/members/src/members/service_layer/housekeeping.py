"""Periodic sweeps run by the relay process: expired pending members and spent sign-in links."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from uskalla_events import Database

from members.service_layer import Services

log = logging.getLogger(__name__)


def housekeeping_job(db: Database, services: Services, interval: float) -> Callable[[], int]:
    """A relay job: a sweep at most every `interval` seconds (the relay beats every second);
    returns how many unconfirmed members it removed."""
    last = [float("-inf")]

    def sweep() -> int:
        if time.monotonic() - last[0] < interval:
            return 0
        last[0] = time.monotonic()
        with db.transaction() as session:
            removed = services.personal_data.remove_expired_pending(session)
            services.sign_in.remove_spent(session)
        if removed:
            log.info("removed unconfirmed members", extra={"count": removed})
        return removed

    return sweep
