"""Jobs of the relay process: acting on join and sign-in requests (every beat), and periodic
sweeps of expired pending members and spent sign-in links."""

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


def intake_job(db: Database, services: Services) -> Callable[[], int]:
    """A relay job: act on the join and sign-in requests waiting (all of them, a hundred per
    transaction); returns how many were handled."""

    def work() -> int:
        handled = 0
        while True:
            with db.transaction() as session:
                done = services.intake.process(session)
            handled += done
            if done < 100:
                if handled:
                    log.info("acted on join and sign-in requests", extra={"count": handled})
                return handled

    return work
