"""Join and sign-in requests: answered after one write, acted on by the relay.

What a join or a sign-in request leads to depends on whether the address is known: a new
member or a fresh link, an "already a member" e-mail, or nothing at all. Doing that while
answering would make known addresses take measurably longer (or shorter) than unknown ones.
So the request path stores the request as it came (`accept`: one INSERT, whatever the
address) and the relay acts on it within a beat (`process`), in the transaction that
deletes it: nothing answered 202 is lost, and nothing is done twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session
from uskalla_events.context import correlation_id

from members.adapters.models import Intake

log = logging.getLogger(__name__)

Handler = Callable[[Session, dict[str, Any]], None]


class IntakeQueue:
    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
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
            select(Intake).order_by(Intake.id).limit(limit).with_for_update(skip_locked=True)
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
                # No traceback: a database error's detail would quote the address and name.
                log.error(
                    "an intake request failed",
                    extra={"intake_id": row.id, "error": type(exc).__name__},
                )
            finally:
                correlation_id.reset(token)
        return handled

    def forget(self, session: Session, email: str) -> None:
        """Delete waiting requests naming an address (erasure)."""
        session.execute(delete(Intake).where(func.lower(Intake.data["email"].astext) == email))
