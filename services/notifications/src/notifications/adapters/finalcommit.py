"""Committing a "sent" mark right behind SMTP's final dot.

A message is delivered when the server reads the final "."; its row says "sent" when the
transaction that says so commits. A process killed between the two either loses the message
(committed first) or sends it again (dot first). Losing is worse, and a message sent again
carries the same stored Message-ID, which mail systems de-duplicate by, so the dot goes
first. The gap is kept as small as it can be: the mark is already written in an open
transaction (its row count still decides whether the message may go at all) and only COMMIT
follows the dot, before the server's answer to the dot is awaited. A kill between those two
socket writes leaves the row unsent, and it is sent once more.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import Connection, text


class PendingCommit:
    """The open transaction on `conn`, to be committed right after another write."""

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        if not isinstance(raw, psycopg.Connection):
            raise TypeError("PendingCommit needs a psycopg connection")
        self.conn: Connection = conn
        self.raw: psycopg.Connection[object] = raw

    @classmethod
    def begin_with(
        cls, conn: Connection, statement: str, params: dict[str, object]
    ) -> tuple[PendingCommit, int]:
        """Open a transaction on a connection in AUTOCOMMIT mode and run `statement` (psycopg
        parameters) in it, both in one round trip (a pipeline); the transaction stays open.
        Returns it and the statement's row count. On an error it is rolled back."""
        pending = cls(conn)
        try:
            with pending.raw.pipeline():
                pending.raw.execute("BEGIN")
                cursor = pending.raw.execute(statement, params)
        except BaseException:
            pending.rollback()
            raise
        return pending, cursor.rowcount

    def rollback(self) -> None:
        self.conn.execute(text("ROLLBACK"))

    def commit(self) -> None:
        """COMMIT, and raise unless the transaction really committed."""
        status = self.raw.execute("COMMIT").statusmessage
        if status != "COMMIT":  # a failed transaction answers COMMIT with ROLLBACK
            raise psycopg.OperationalError(f"COMMIT answered {status!r}")
