"""Marshmallow schemas for gatherings and registrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from uskalla_kit.fields import WEB_ADDRESS_PATTERN, QueryFlag, Text, WebAddress, not_blank, one_line
from uskalla_kit.pagination import PageQuery, page_schema

from members.domain.gatherings import (
    EXPERIMENTS_MAX,
    KINDS,
    MATERIALS_MAX,
    SUMMARY_MAX,
    schedule_errors,
)
from members.domain.rules import LANGUAGES

#: The years a gathering's times may have, as written (documented as a pattern: 20xx).
YEARS = range(2000, 2100)


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 time (without an offset taken as UTC), kept in UTC, its year as written
    within 2000-2099 (documented as the pattern `^20[0-9]{2}-`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            format="iso", default_timezone=UTC, metadata={"pattern": r"^20[0-9]{2}-"}, **kwargs
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.year not in YEARS:
            raise ValidationError("Must be between the years 2000 and 2099.")
        return moment.astimezone(UTC)


class GatheringFields(Schema):
    title = Text(validate=[validate.Length(min=1, max=200), not_blank()])
    kind = Text(validate=validate.OneOf(KINDS))
    description = Text(validate=validate.Length(max=10_000))
    starts_at = UTCDateTime()
    ends_at = UTCDateTime()
    location = Text(allow_none=True, validate=validate.Length(max=300))
    online_url = WebAddress(allow_none=True, validate=validate.Length(max=500))
    capacity = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=100_000)
    )
    registration_deadline = UTCDateTime(allow_none=True)
    language = Text(validate=validate.OneOf(LANGUAGES))


class GatheringCreateSchema(GatheringFields):
    title = Text(required=True, validate=[validate.Length(min=1, max=200), not_blank()])
    kind = Text(required=True, validate=validate.OneOf(KINDS))
    description = Text(load_default="", validate=validate.Length(max=10_000))
    starts_at = UTCDateTime(required=True)
    ends_at = UTCDateTime(required=True)
    location = Text(load_default=None, allow_none=True, validate=validate.Length(max=300))
    online_url = WebAddress(load_default=None, allow_none=True, validate=validate.Length(max=500))
    capacity = fields.Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1, max=100_000)
    )
    registration_deadline = UTCDateTime(load_default=None, allow_none=True)
    language = Text(load_default="fi", validate=validate.OneOf(LANGUAGES))

    @validates_schema(skip_on_field_errors=True)
    def _schedule(self, data: dict[str, Any], **_: Any) -> None:
        errors = schedule_errors(
            data["starts_at"],
            data["ends_at"],
            data["registration_deadline"],
            data["location"],
            data["online_url"],
        )
        if errors:
            raise ValidationError(errors)


class GatheringPatchSchema(GatheringFields):
    """Any of the fields; checked together with the gathering's other values when applied."""


#: Materials are linked over https only (documented as WEB_ADDRESS_PATTERN for https).
HTTPS_ADDRESS_PATTERN = WEB_ADDRESS_PATTERN.replace("^https?://", "^https://", 1)


def https_only(value: str) -> None:
    if not value.startswith("https://"):
        raise ValidationError("Must be an https address.")


def unique(values: list[Any]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Each value may appear only once.")


class MaterialSchema(Schema):
    title = Text(required=True, validate=[validate.Length(min=1, max=200), one_line()])
    url = WebAddress(
        required=True,
        validate=[validate.Length(max=500), https_only],
        metadata={"pattern": HTTPS_ADDRESS_PATTERN},
    )


class GatheringSchema(Schema):
    id = fields.UUID(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    description = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    location = fields.String(allow_none=True)
    online_url = fields.String(allow_none=True)
    capacity = fields.Integer(allow_none=True)
    registration_deadline = fields.DateTime(allow_none=True)
    language = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(["draft", "published", "cancelled"])
    )
    registered = fields.Integer(required=True)
    waitlisted = fields.Integer(required=True)
    my_registration = fields.String(
        allow_none=True, validate=validate.OneOf(["registered", "waitlisted"])
    )
    url = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    published_at = fields.DateTime(allow_none=True)
    ended = fields.Boolean(required=True)
    summary = fields.String(required=True)
    summary_html = fields.String(required=True)
    materials = fields.List(fields.Nested(MaterialSchema), required=True)
    experiment_ids = fields.List(fields.UUID(), required=True)
    attended = fields.Integer(allow_none=True)


GatheringPageSchema = page_schema(GatheringSchema, "GatheringPage")


class GatheringListQuery(PageQuery):
    class Meta:
        unknown = EXCLUDE

    upcoming = QueryFlag(load_default=True)
    # Which gatherings by time; when given it decides, else `upcoming` does (all when false).
    when = Text(validate=validate.OneOf(["upcoming", "past", "all"]))
    kind = Text(validate=validate.OneOf(KINDS))
    language = Text(validate=validate.OneOf(LANGUAGES))
    # Drafts are listed for coordinators only.
    status = Text(load_default="published", validate=validate.OneOf(["published", "draft"]))


class RegistrationStatusSchema(Schema):
    status = fields.String(
        required=True, validate=validate.OneOf(["registered", "waitlisted", "cancelled"])
    )


class RegistrantSchema(Schema):
    member_id = fields.UUID(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    organisation = fields.String(required=True)
    municipality_code = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(["registered", "waitlisted"]))
    position = fields.Integer(required=True)
    registered_at = fields.DateTime(required=True)
    attended = fields.Boolean(allow_none=True)


RegistrantPageSchema = page_schema(RegistrantSchema, "RegistrantPage")


class RegistrantQuery(PageQuery):
    class Meta:
        unknown = EXCLUDE


class GatheringRecordSchema(Schema):
    """What a gathering left behind (PUT: every field given, all replaced)."""

    summary = Text(required=True, validate=validate.Length(max=SUMMARY_MAX))
    materials = fields.List(
        fields.Nested(MaterialSchema), required=True, validate=validate.Length(max=MATERIALS_MAX)
    )
    experiment_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=[validate.Length(max=EXPERIMENTS_MAX), unique],
        metadata={"uniqueItems": True},
    )


class AttendanceBodySchema(Schema):
    """The registered members who came; every other registered member did not."""

    attended = fields.List(
        fields.UUID(),
        required=True,
        validate=[validate.Length(max=100_000), unique],
        metadata={"uniqueItems": True},
    )


class AttendanceSchema(Schema):
    gathering_id = fields.UUID(required=True)
    registered = fields.Integer(required=True)
    attended = fields.List(fields.UUID(), required=True)
    marked = fields.Boolean(required=True)
