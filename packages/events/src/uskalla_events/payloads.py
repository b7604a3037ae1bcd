"""Event payloads as frozen dataclasses; each one's marshmallow schema is derived from its fields.

The dataclass is the one definition of a payload: its annotations say the types (`uuid.UUID`,
aware `datetime`, `enum.StrEnum`, `Email`, `list[...]`, `X | None`) and its defaults which
fields may be absent. `schema_of` turns it into a schema that loads the JSON form into the
object and dumps the object back to the JSON form (strings at the edge).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load

#: An e-mail address (checked for its form on the way in and out; kept as it came).
Email = Annotated[str, fields.Email]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Payload:
    """Base of every event payload."""


class UtcDateTime(fields.AwareDateTime):
    """An aware datetime, written as UTC ISO 8601 (as the envelope's `occurred_at`)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:  # astimezone would take it for this machine's local time
            raise ValidationError("Not a valid aware datetime.")
        return str(value.astimezone(UTC).isoformat())


class PayloadSchema(Schema):
    payload: ClassVar[type[Payload]]

    class Meta:
        unknown = EXCLUDE  # newer producers may add fields within a version

    @post_load
    def build(self, data: dict[str, Any], **kwargs: Any) -> Payload:
        return self.payload(**data)


_SIMPLE: dict[Any, type[fields.Field[Any]]] = {
    str: fields.String,
    bool: fields.Boolean,
    int: fields.Integer,
    uuid.UUID: fields.UUID,
    datetime: UtcDateTime,
}


def _field(annotation: Any, **options: Any) -> fields.Field[Any]:
    """The marshmallow field for one annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        field_class: type[fields.Field[Any]] = args[1]
        return field_class(**options)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _field(inner, allow_none=True, **options)
    if origin is list:
        return fields.List(_field(args[0]), **options)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return fields.Enum(annotation, by_value=True, **options)
    if annotation in _SIMPLE:
        return _SIMPLE[annotation](**options)
    raise TypeError(f"no event field for {annotation!r}")


_SCHEMAS: dict[type[Payload], PayloadSchema] = {}


def schema_of(payload: type[Payload]) -> PayloadSchema:
    """The payload's schema (one instance per payload: schemas keep no per-call state)."""
    schema = _SCHEMAS.get(payload)
    if schema is None:
        schema = _SCHEMAS[payload] = _derive(payload)
    return schema


def _derive(payload: type[Payload]) -> PayloadSchema:
    hints = typing.get_type_hints(payload, include_extras=True)
    declared: dict[str, Any] = {"payload": payload}
    for f in dataclasses.fields(payload):
        if f.default is not dataclasses.MISSING:
            options: dict[str, Any] = {"load_default": f.default}
        elif f.default_factory is not dataclasses.MISSING:
            options = {"load_default": f.default_factory}
        else:
            options = {"required": True}
        declared[f.name] = _field(hints[f.name], **options)
    schema_class = type(f"{payload.__name__}Schema", (PayloadSchema,), declared)
    return typing.cast(PayloadSchema, schema_class())
