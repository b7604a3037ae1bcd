"""Event backbone: envelope, contracts, transactional outbox, idempotent inbox, Celery wiring."""

from uskalla_events.consumer import EventHandlers, TemporaryFailure
from uskalla_events.contracts import CONTRACTS, EventContract, consumed_by, queue_name
from uskalla_events.db import Database, after_commit
from uskalla_events.envelope import Envelope, new_envelope
from uskalla_events.system import EventSystem
from uskalla_events.tables import EventTables, event_tables

__all__ = [
    "CONTRACTS",
    "Database",
    "Envelope",
    "EventContract",
    "EventHandlers",
    "EventSystem",
    "EventTables",
    "TemporaryFailure",
    "after_commit",
    "consumed_by",
    "event_tables",
    "new_envelope",
    "queue_name",
]
