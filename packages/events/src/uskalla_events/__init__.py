"""Event backbone: envelope, contracts, transactional outbox, idempotent inbox, Celery wiring."""

from uskalla_events.consumer import EventHandlers, TemporaryFailure
from uskalla_events.contracts import (
    CONTRACTS,
    EventContract,
    consumed_by,
    load_payload,
    queue_name,
)
from uskalla_events.db import Database, after_commit
from uskalla_events.envelope import Envelope, new_envelope
from uskalla_events.payloads import Payload
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
    "Payload",
    "TemporaryFailure",
    "after_commit",
    "consumed_by",
    "event_tables",
    "load_payload",
    "new_envelope",
    "queue_name",
]
