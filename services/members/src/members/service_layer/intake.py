"""Join and sign-in requests: answered after one write, acted on by the relay.

What a join or a sign-in request leads to depends on whether the address is known: a new
member or a fresh link, an "already a member" e-mail, or nothing at all. Doing that while
answering would make known addresses take measurably longer (or shorter) than unknown ones.
So the request path stores the request as it came (`accept`: one INSERT, whatever the
address) and the relay acts on it at once (`process`: a trigger on the table notifies the
relay at commit; the beat is the fallback), in the transaction that deletes it: nothing
answered 202 is lost, and nothing is done twice.

A request that fails (a bug, a database refusing a value) waits before its next try, twice as
long each time (at most an hour), so that it cannot hold up the ones behind it; after
`INTAKE_MAX_ATTEMPTS` it is held (`held_at`) for an operator: `members intake` shows what waits
and what is held, `members intake --release` tries the held ones again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session
from uskalla_events.context import correlation_id

from members.adapters.models import Intake

log = logging.getLogger(__name__)

Handler = Callable[[Session, dict[str, Any]], None]
#: A trigger on `intake` notifies this channel at commit, and the relay wakes at once.
INTAKE_CHANNEL = "members_intake"
LONGEST_WAIT = timedelta(hours=1)


class IntakeQueue:
    def __init__(self, handlers: dict[str, Handler], max_attempts: int = 10) -> None:
        self.handlers = handlers
        self.max_attempts = max_attempts
        self._insert = insert(Intake)

    def accept(self, session: Session, kind: str, data: dict[str, Any]) -> None:
        """Keep a well-formed request for the relay (the only database work on answering)."""
        session.execute(
            self._insert, {"kind": kind, "data": data, "correlation_id": correlation_id.get()}
        )

    def process(self, session: Session, limit: int = 100) -> int:
        """Act on waiting requests, oldest first; each in a savepoint, so one that fails
        (and stays for the next beat) holds up no other. Returns how many were handled."""
        rows = session.scalars(
            select(Intake)
            .where(Intake.held_at.is_(None), Intake.retry_at <= func.now())
            .order_by(Intake.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        handled = 0
        for row in rows:
            token = correlation_id.set(row.correlation_id)
            try:
                with session.begin_nested():
                    self.handlers[row.kind](session, dict(row.data))
                    session.delete(row)
                handled += 1
            except Exception as exc:
                self._failed(session, row, exc)
            finally:
                correlation_id.reset(token)
        return handled

    def _failed(self, session: Session, row: Intake, exc: Exception) -> None:
        attempts = row.attempts + 1
        held = attempts >= self.max_attempts
        wait = min(timedelta(seconds=2**attempts), LONGEST_WAIT)
        session.execute(
            update(Intake)
            .where(Intake.id == row.id)
            .values(
                attempts=attempts,
                retry_at=func.now() + wait,
                held_at=func.now() if held else None,
            )
        )
        # No traceback: a database error's detail would quote the address and name.
        log.error(
            "an intake request was held after its last attempt"
            if held
            else "an intake request failed",
            extra={"intake_id": row.id, "attempts": attempts, "error": type(exc).__name__},
        )

    def counts(self, session: Session) -> dict[str, int]:
        """How many requests wait (retries included) and how many are held."""
        held = func.count().filter(Intake.held_at.is_not(None))
        waiting = func.count().filter(Intake.held_at.is_(None))
        row = session.execute(select(waiting, held).select_from(Intake)).one()
        return {"waiting": row[0], "held": row[1]}

    def release(self, session: Session) -> int:
        """Try the held requests again from their first attempt; returns how many."""
        result = session.execute(
            update(Intake)
            .where(Intake.held_at.is_not(None))
            .values(held_at=None, attempts=0, retry_at=func.now())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def forget(self, session: Session, email: str) -> None:
        """Delete waiting requests naming an address (erasure)."""
        session.execute(delete(Intake).where(func.lower(Intake.data["email"].astext) == email))
