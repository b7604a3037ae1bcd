"""Schemas of a newsletter's schedule and of the public archive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates
from uskalla_kit.fields import Text
from uskalla_kit.pagination import page_schema

from notifications.entrypoints.schemas import BODY, LANGUAGES, SUBJECT


class ScheduleSchema(Schema):
    send_at = fields.AwareDateTime(required=True)

    @validates("send_at")
    def _future(self, value: datetime, **_: Any) -> None:
        if value <= datetime.now(UTC):
            raise ValidationError("The time must be in the future.")


class ArchivedSchema(Schema):
    """A sent newsletter in the public archive: nothing about who got it."""

    id = fields.UUID(required=True)
    subject = fields.String(required=True)
    language = fields.String(required=True)
    preheader = fields.String(required=True)
    sent_at = fields.DateTime(required=True)


class ArchivedLetterSchema(ArchivedSchema):
    #: The newsletter as a reader got it (the mail's HTML part, with nobody's links).
    html = fields.String(required=True)
    text = fields.String(required=True)


ArchivePage = page_schema(ArchivedSchema, "ArchivePage")


class PreviewSchema(Schema):
    subject = fields.String(required=True)
    html = fields.String(required=True)
    text = fields.String(required=True)


class ArchiveQuery(Schema):
    #: The language of the footer's words (the newsletter's own language when it has one).
    language = fields.String(load_default="fi", validate=validate.OneOf(LANGUAGES))


class PreviewRequest(Schema):
    subject = Text(required=True, validate=SUBJECT)
    body = Text(required=True, validate=BODY)
    language = Text(load_default="fi", validate=validate.OneOf(LANGUAGES))
