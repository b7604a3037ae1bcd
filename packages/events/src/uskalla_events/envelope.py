"""The event envelope every event travels in: small, JSON only, versioned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uskalla_events.payloads import Payload


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Envelope:
    """What crosses a service boundary: ids and the minimum facts, never ORM objects."""

    type: str
    version: int
    producer: str
    data: dict[str, Any]
    correlation_id: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=utc_now_iso)

    @property
    def occurred(self) -> datetime:
        """`occurred_at` as an aware datetime."""
        return datetime.fromisoformat(self.occurred_at)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy of the payload is most of the cost per event.
        return {
            "type": self.type,
            "version": self.version,
            "producer": self.producer,
            "data": dict(self.data),
            "correlation_id": self.correlation_id,
            "id": self.id,
            "occurred_at": self.occurred_at,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Envelope:
        missing = {"id", "type", "version", "occurred_at", "producer", "data"} - raw.keys()
        if missing:
            raise ValueError(f"envelope lacks {sorted(missing)}")
        if not isinstance(raw["data"], dict):
            raise ValueError("envelope data must be an object")
        return cls(
            id=str(uuid.UUID(str(raw["id"]))),
            type=str(raw["type"]),
            version=int(raw["version"]),
            occurred_at=str(raw["occurred_at"]),
            producer=str(raw["producer"]),
            correlation_id=raw.get("correlation_id"),
            data=raw["data"],
        )


def new_envelope(payload: Payload, *, correlation_id: str | None = None) -> Envelope:
    """The envelope of a catalogued event: its type from the payload's class, its data the
    payload's JSON form, checked against the contract."""
    from uskalla_events.contracts import contract_of

    contract = contract_of(type(payload))
    return Envelope(
        type=contract.type,
        version=contract.version,
        producer=contract.producer,
        data=contract.dump(payload),
        correlation_id=correlation_id,
    )
