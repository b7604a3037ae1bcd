"""Marshmallow schemas for the members HTTP API: what a well-formed request looks like."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import has_request_context, request
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
)
from uskalla_kit.fields import EmailAddress, Flag, Pattern, QueryFlag, Text, not_blank
from uskalla_kit.openapi import Changes
from uskalla_kit.pagination import PageQuery, page_schema
from uskalla_reference.municipalities import municipalities

from members.domain.rules import (
    DIGESTS,
    LANGUAGES,
    LISTS,
    MAX_MUNICIPALITIES,
    MAX_THEMES,
    ROLES,
    STATUSES,
)


def municipality_code(*, default_none: bool = True) -> Text:
    """A Statistics Finland code from the shipped list (absent = None only where asked)."""
    extra: dict[str, Any] = {"load_default": None} if default_none else {}
    return Text(
        allow_none=True,
        validate=validate.OneOf(
            sorted(municipalities()),
            error="Unknown municipality code (Statistics Finland, 3 digits).",
        ),
        **extra,
    )


def municipality() -> Text:
    """A Statistics Finland code from the shipped list, in a list of them (never null)."""
    return Text(
        validate=validate.OneOf(
            sorted(municipalities()),
            error="Unknown municipality code (Statistics Finland, 3 digits).",
        )
    )


def theme() -> Text:
    """A theme's slug, as experiments and newsletters name themes."""
    return Text(
        validate=[
            Pattern(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="A theme is a slug like 'x-y'."),
            validate.Length(min=1, max=60),
        ]
    )


def unique_list(item: fields.Field[Any], maximum: int, **options: Any) -> fields.List[Any]:
    """A list of at most `maximum` distinct values (the document says `uniqueItems`)."""

    def no_duplicates(values: list[Any]) -> None:
        if len(set(values)) != len(values):
            raise ValidationError("Each value may appear only once.")

    checks: list[Callable[[Any], Any]] = [validate.Length(max=maximum), no_duplicates]
    return fields.List(item, validate=checks, metadata={"uniqueItems": True}, **options)


class InterestsSchema(Schema):
    """A member's interests; a PUT gives all three (an empty list follows nothing)."""

    themes = unique_list(theme(), MAX_THEMES, required=True)
    municipality_codes = unique_list(municipality(), MAX_MUNICIPALITIES, required=True)
    digest = Text(required=True, validate=validate.OneOf(DIGESTS))


class JoinSchema(Schema):
    email = EmailAddress(required=True)
    name = Text(
        required=True,
        validate=[validate.Length(min=1, max=200), not_blank("Name cannot be blank.")],
    )
    organisation = Text(load_default="", validate=validate.Length(max=200))
    municipality_code = municipality_code()
    title = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    language = Text(load_default="fi", validate=validate.OneOf(LANGUAGES))
    newsletter = Flag(load_default=True)
    invitations = Flag(load_default=True)
    # Interests may be given when joining (each optional): without `digest` it is `weekly`
    # for one who wants the newsletter, else `off`.
    themes = unique_list(theme(), MAX_THEMES, load_default=list)
    municipality_codes = unique_list(municipality(), MAX_MUNICIPALITIES, load_default=list)
    digest = Text(validate=validate.OneOf(DIGESTS))
    consent = Flag(
        required=True,
        validate=validate.Equal(True, error="Consent to the privacy notice is required to join."),
    )


class ProfilePatchSchema(Schema):
    """A member's own changes: any of these fields, nothing else."""

    name = Text(validate=[validate.Length(min=1, max=200), not_blank()])
    organisation = Text(allow_none=True, validate=validate.Length(max=200))
    municipality_code = municipality_code(default_none=False)
    title = Text(allow_none=True, validate=validate.Length(max=200))
    language = Text(validate=validate.OneOf(LANGUAGES))
    newsletter = Flag()
    invitations = Flag()
    follows = Flag()
    comments = Flag()


class TokenSchema(Schema):
    token = Text(required=True, validate=validate.Length(min=1, max=200))


class UnsubscribeQuery(Schema):
    """The query of the List-Unsubscribe URL, where the token is. The contract also takes it as
    a form field (a mail program posts `List-Unsubscribe=One-Click` to the URL; a page may post
    the token itself): when the query has none, the form's is loaded under the same rules."""

    # Signed tokens are longer than the random ones (about 130 characters); still bounded, and
    # so that the longest token, percent-encoded, keeps the request line under the servers'
    # 8190 bytes (500 four-byte characters are 6000): a longer one is a 422 naming `token`.
    token = Text(required=True, validate=validate.Length(min=1, max=500))

    @pre_load
    def token_from_the_form(self, data: Any, **_: Any) -> Any:
        wanting = isinstance(data, dict) and "token" not in data
        if wanting and has_request_context() and "token" in request.form:
            return {**data, "token": request.form["token"]}
        return data


class UnsubscribedSchema(Schema):
    status = fields.String(required=True)
    list = fields.String(required=True, validate=validate.OneOf(LISTS))


class SignInSchema(Schema):
    email = EmailAddress(required=True)


class AccessTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class SignInPreviewSchema(Schema):
    """Whom a sign-in link would sign in, for the gateway to show before it is spent."""

    email = fields.String(required=True)
    name = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))


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
    #: E-mails about followed experiments, and (to owners) about comments on their own.
    follows = fields.Boolean(required=True)
    comments = fields.Boolean(required=True)
    role = fields.String(required=True)
    joined_at = fields.DateTime(allow_none=True)
    #: Mail to the address bounced (or a coordinator has not lifted its suppression yet): the
    #: member's page says so and what to do.
    undeliverable = fields.Boolean(required=True)


class MemberAdminSchema(MemberSchema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    created_at = fields.DateTime(allow_none=True)


MemberPageSchema = page_schema(MemberAdminSchema, "MemberPage")


class MemberListQuery(PageQuery):
    class Meta:
        unknown = EXCLUDE

    q = Text(validate=validate.Length(min=1, max=200))
    municipality_code = municipality_code(default_none=False)
    newsletter = QueryFlag()
    invitations = QueryFlag()
    role = Text(validate=validate.OneOf(ROLES))
    status = Text(load_default="active", validate=validate.OneOf(STATUSES))


class MemberAdminPatchSchema(Changes):
    """A coordinator's change to a member: role, or (de)activation (one of them at least)."""

    role = Text(validate=validate.OneOf(ROLES))
    active = Flag()


class ConsentSchema(Schema):
    given_at = fields.DateTime(required=True)
    privacy_notice_version = fields.String(required=True)


class ExportedMemberSchema(MemberAdminSchema):
    updated_at = fields.DateTime(allow_none=True)
    consent = fields.Nested(ConsentSchema, required=True)


class ExportedRegistrationSchema(Schema):
    gathering_id = fields.UUID(required=True)
    title = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    status = fields.String(required=True)
    registered_at = fields.DateTime(required=True)
    promoted_at = fields.DateTime(allow_none=True)
    #: Marked by coordinators after the gathering (None until marked).
    attended = fields.Boolean(allow_none=True)


class ExportSchema(Schema):
    """Everything the members service holds about one member."""

    member = fields.Nested(ExportedMemberSchema, required=True)
    interests = fields.Nested(InterestsSchema, required=True)
    registrations = fields.List(fields.Nested(ExportedRegistrationSchema), required=True)


class MunicipalitySchema(Schema):
    code = fields.String(required=True)
    name_fi = fields.String(required=True)
    name_sv = fields.String(required=True)
    region_code = fields.String(required=True)
    region_fi = fields.String(required=True)
    region_sv = fields.String(required=True)


class MunicipalityListSchema(Schema):
    items = fields.List(fields.Nested(MunicipalitySchema), required=True)


class MyRegistrationSchema(Schema):
    """One of the caller's registrations, with its gathering's details."""

    gathering_id = fields.UUID(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    location = fields.String(allow_none=True)
    online_url = fields.String(allow_none=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    #: The gathering was cancelled (it stays listed, marked so).
    cancelled = fields.Boolean(required=True)
    #: It has not ended yet.
    upcoming = fields.Boolean(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["registered", "waitlisted"]))
    registered_at = fields.DateTime(required=True)
    promoted_at = fields.DateTime(allow_none=True)
    url = fields.String(required=True)


MyRegistrationPageSchema = page_schema(MyRegistrationSchema, "MyRegistrationPage")
