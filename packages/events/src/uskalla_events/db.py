"""A service's database: one transaction per use case, with work to run after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

AFTER_COMMIT = "uskalla.after_commit"
log = logging.getLogger(__name__)


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run callback once the session's transaction has committed (never on rollback)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


class Database:
    """Engine and sessions for one service's own database."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = create_engine(
            url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size, echo=echo
        )
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

    def dispose(self) -> None:
        self.engine.dispose()
