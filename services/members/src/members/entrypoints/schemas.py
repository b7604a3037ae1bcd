"""Marshmallow schemas for the members HTTP API: what a well-formed request looks like."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from marshmallow import Schema, ValidationError, fields, validate, validates

from members.domain.municipalities import municipalities

LANGUAGES = ("fi", "sv", "en")


class EmailAddress(fields.String):
    """An e-mail address in real syntax (RFC 5321/5322 via email-validator), normalised."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 254:
            raise ValidationError("The address is too long.")
        try:
            return str(validate_email(text, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise ValidationError(f"Not a valid e-mail address: {exc}") from None


def municipality_code() -> fields.String:
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(
            sorted(municipalities()),
            error="Unknown municipality code (Statistics Finland, 3 digits).",
        ),
    )


class JoinSchema(Schema):
    email = EmailAddress(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation = fields.String(load_default="", validate=validate.Length(max=200))
    municipality_code = municipality_code()
    title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    language = fields.String(load_default="fi", validate=validate.OneOf(LANGUAGES))
    newsletter = fields.Boolean(load_default=True)
    invitations = fields.Boolean(load_default=True)
    consent = fields.Boolean(required=True)

    @validates("consent")
    def _consent(self, value: bool, **_: Any) -> None:
        if value is not True:
            raise ValidationError("Consent to the privacy notice is required to join.")

    @validates("name")
    def _name(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("Name cannot be blank.")


class TokenSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class StatusSchema(Schema):
    status = fields.String(required=True)


class MemberSchema(Schema):
    id = fields.UUID(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    organisation = fields.String(required=True)
    municipality_code = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    language = fields.String(required=True)
    newsletter = fields.Boolean(required=True)
    invitations = fields.Boolean(required=True)
    role = fields.String(required=True)
    joined_at = fields.DateTime(allow_none=True)


class MunicipalitySchema(Schema):
    code = fields.String(required=True)
    name_fi = fields.String(required=True)
    name_sv = fields.String(required=True)
    region_code = fields.String(required=True)
    region_fi = fields.String(required=True)
    region_sv = fields.String(required=True)


class MunicipalityListSchema(Schema):
    items = fields.List(fields.Nested(MunicipalitySchema), required=True)
