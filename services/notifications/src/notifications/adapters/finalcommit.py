"""Committing a "sent" mark together with SMTP's final dot.

A message is delivered when the server reads the final "."; its row says "sent" when the
transaction that says so commits. A process killed between the two either loses the message
or sends it twice, so the gap between them is what matters. Committing first and writing the
dot after the reply leaves the whole commit round trip (the WAL flush included) as the gap:
PostgreSQL finishes a COMMIT whose client has died. So the mark runs inside an open
transaction first (its row count still decides whether the message may go at all), and then
COMMIT and the dot are written back to back before either reply is read: killed before the
COMMIT write, neither happens (the row is sent again later); after the dot write, both do.
What is left is the time between two socket writes.
"""

from __future__ import annotations

import select

import psycopg
from psycopg import pq
from sqlalchemy import Connection, text

#: How long to wait for PostgreSQL's answer to the COMMIT before giving the connection up.
COMMIT_TIMEOUT = 30.0


class PendingCommit:
    """The open transaction on `conn`, to be committed beside another write."""

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        if not isinstance(raw, psycopg.Connection):
            raise TypeError("PendingCommit needs a psycopg connection")
        self.conn: Connection = conn
        self.pgconn: pq.abc.PGconn = raw.pgconn

    @classmethod
    def begin(cls, conn: Connection) -> PendingCommit:
        """Open a transaction on a connection in AUTOCOMMIT mode."""
        conn.execute(text("BEGIN"))
        return cls(conn)

    def rollback(self) -> None:
        self.conn.execute(text("ROLLBACK"))

    def send(self) -> None:
        """Put COMMIT on the wire without waiting for its answer."""
        self.pgconn.send_query(b"COMMIT")
        while self.pgconn.flush():
            select.select([], [self.pgconn.socket], [], COMMIT_TIMEOUT)

    def wait(self) -> None:
        """Read the COMMIT's answer: raise unless the transaction really committed."""
        status = None
        while True:
            while self.pgconn.is_busy():
                ready, _, _ = select.select([self.pgconn.socket], [], [], COMMIT_TIMEOUT)
                if not ready:
                    raise psycopg.OperationalError("no answer to COMMIT")
                self.pgconn.consume_input()
            result = self.pgconn.get_result()
            if result is None:
                break
            if result.status != pq.ExecStatus.COMMAND_OK:
                raise psycopg.OperationalError(result.error_message.decode(errors="replace"))
            status = result.command_status
        if status != b"COMMIT":  # a failed transaction answers COMMIT with ROLLBACK
            raise psycopg.OperationalError(f"COMMIT answered {status!r}")
