"""The correlation id of the work in hand: a request id, carried into events and log lines."""

from __future__ import annotations

from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
