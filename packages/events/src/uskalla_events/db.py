"""A service's database: one transaction per use case, with work to run after commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

AFTER_COMMIT = "uskalla.after_commit"
#: A pooled connection idle for longer than this is pinged before use (see `ping_when_idle`).
PING_AFTER_IDLE = 2.0
log = logging.getLogger(__name__)


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run callback once the session's transaction has committed (never on rollback)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


class Database:
    """Engine and sessions for one service's own database."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        ping_after_idle: float = PING_AFTER_IDLE,
    ) -> None:
        self.url = url
        self.engine: Engine = create_engine(
            # hide_parameters: a failed statement's error (and so the log) never shows the
            # values it carried: e-mail addresses, names, tokens' hashes.
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            echo=echo,
            hide_parameters=True,
        )
        ping_when_idle(self.engine, ping_after_idle)
        self._before_dispose: list[Callable[[], object]] = []
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on error, then run after-commit work."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
            callbacks = session.info.pop(AFTER_COMMIT, [])
        finally:
            session.close()
        for callback in callbacks:
            # The transaction has committed: work after it is best effort and its failure must
            # not make the caller believe otherwise (each such step has its own sweeper).
            try:
                callback()
            except Exception:
                log.warning("after-commit step failed; its sweeper will catch up", exc_info=True)

    def before_dispose(self, callback: Callable[[], object]) -> None:
        """Run callback when the database is disposed (to write what is still held back)."""
        self._before_dispose.append(callback)

    def dispose(self) -> None:
        for callback in self._before_dispose:
            try:
                callback()
            except Exception:
                log.warning("work held back for the database was not written", exc_info=True)
        self.engine.dispose()


def ping_when_idle(engine: Engine, idle: float = PING_AFTER_IDLE) -> None:
    """Check a pooled connection with a round trip only when it has been idle for a while.

    `pool_pre_ping` costs a round trip on every checkout; under load a connection comes back
    within milliseconds and the ping is pure overhead. A connection that sat idle (when the
    server may have restarted or a firewall dropped it) is pinged and, if dead, replaced
    before the caller sees it. A failure within `idle` seconds of the last use surfaces as an
    error once, and the pool then drops every connection older than it.
    """

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("a pooled connection was dead") from exc
