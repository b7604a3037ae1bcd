"""Marshmallow schemas for the notifications HTTP API: what comes in and what goes out."""

from __future__ import annotations

from marshmallow import Schema, fields, validate
from uskalla_kit.fields import EmailAddress, Flag, Pattern, Text, not_blank, one_line
from uskalla_kit.pagination import PageQuery, page_schema
from uskalla_reference.municipalities import region_codes

from notifications.domain.statuses import DeliveryStatus, NewsletterStatus

LANGUAGES = ("fi", "sv", "en")
CODE = Pattern(r"^[0-9]{3}$", error="A municipality code is 3 digits.")
SLUG = Pattern(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="A theme is a slug like 'x-y'.")
STATUSES = tuple(s.value for s in NewsletterStatus)
#: Statistics Finland's region (maakunta) codes.
REGION = validate.OneOf(sorted(region_codes()), error="Not a region code.")
#: What the delivery log can be filtered by (`sending` is a batch chain's moment, not a state).
DELIVERY_STATUSES = tuple(s.value for s in DeliveryStatus if s != DeliveryStatus.SENDING)


KINDS = (
    "confirmation",
    "already_member",
    "welcome",
    "sign_in",
    "invitation",
    "registration",
    "comment",
    "newsletter",
    "newsletter_test",
    "gathering_changed",
    "gathering_cancelled",
    "gathering_reminder",
    "follows",
    "digest",
)


SUBJECT = [validate.Length(min=1, max=200), one_line("The subject is one line, not blank.")]
BODY = [validate.Length(min=1, max=100_000), not_blank("The body cannot be blank.")]


class NewsletterFields(Schema):
    subject = Text(validate=SUBJECT)
    body = Text(validate=BODY)
    language = Text(validate=validate.OneOf([*LANGUAGES, "all"]))
    municipality_codes = fields.List(Text(validate=CODE), validate=validate.Length(max=400))
    region_codes = fields.List(Text(validate=REGION), validate=validate.Length(max=30))
    #: In the public archive once sent.
    public = Flag()
    themes = fields.List(
        Text(validate=[SLUG, validate.Length(max=60)]), validate=validate.Length(max=20)
    )


class NewsletterCreate(NewsletterFields):
    subject = Text(required=True, validate=SUBJECT)
    body = Text(required=True, validate=BODY)
    language = Text(load_default="all", validate=validate.OneOf([*LANGUAGES, "all"]))
    municipality_codes = fields.List(
        Text(validate=CODE), load_default=list, validate=validate.Length(max=400)
    )
    themes = fields.List(
        Text(validate=[SLUG, validate.Length(max=60)]),
        load_default=list,
        validate=validate.Length(max=20),
    )


class NewsletterPatch(NewsletterFields):
    pass


class ProgressSchema(Schema):
    recipients = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    pending = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)


class NewsletterSchema(Schema):
    id = fields.UUID(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    language = fields.String(required=True)
    municipality_codes = fields.List(fields.String(), required=True)
    region_codes = fields.List(fields.String(), required=True)
    themes = fields.List(fields.String(), required=True)
    public = fields.Boolean(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    send_at = fields.DateTime(required=True, allow_none=True)
    created_by = fields.UUID(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    send_requested_at = fields.DateTime(required=True, allow_none=True)
    finished_at = fields.DateTime(required=True, allow_none=True)
    audience_complete = fields.Boolean(required=True)
    progress = fields.Nested(ProgressSchema, required=True)


NewsletterPage = page_schema(NewsletterSchema, "NewsletterPage")


class NewsletterQuery(PageQuery):
    status = Text(validate=validate.OneOf(STATUSES))


class CopyQueuedSchema(Schema):
    status = fields.String(required=True)
    email = fields.String(required=True)


class DeliverySchema(Schema):
    id = fields.UUID(required=True)
    member_id = fields.UUID(required=True, allow_none=True)
    kind = fields.String(required=True)
    cause = fields.String(required=True)
    language = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(required=True, allow_none=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)


DeliveryPage = page_schema(DeliverySchema, "DeliveryPage")


class DeliveryQuery(PageQuery):
    member_id = fields.UUID()
    kind = Text(validate=validate.OneOf(KINDS))
    status = Text(validate=validate.OneOf(DELIVERY_STATUSES))
    cause = Text(validate=validate.Length(min=1, max=100))


class BounceSchema(Schema):
    email = EmailAddress(required=True)
    kind = Text(required=True, validate=validate.OneOf(("hard", "soft")))
    reason = Text(load_default="", validate=validate.Length(max=2000))


class BounceResultSchema(Schema):
    email = fields.String(required=True)
    kind = fields.String(required=True)
    suppressed = fields.Boolean(required=True)
    soft_bounces = fields.Integer(required=True)
    hard_bounces = fields.Integer(required=True)


class SuppressionSchema(Schema):
    id = fields.UUID(required=True)
    #: The member's address and id, where notifications knows whose address it is.
    email = fields.String(required=True, allow_none=True)
    member_id = fields.UUID(required=True, allow_none=True)
    reason = fields.String(
        required=True,
        metadata={"enum": ["hard_bounce", "soft_bounces", "complaint", "manual"]},
    )
    since = fields.DateTime(required=True)
    bounces = fields.Integer(required=True)
    last_reason = fields.String(required=True)


SuppressionPage = page_schema(SuppressionSchema, "SuppressionPage")


class KeptMailSchema(Schema):
    """A message the bounce receiver kept unread: a summary, never the body."""

    id = fields.UUID(required=True)
    received_at = fields.DateTime(required=True)
    mail_from = fields.String(required=True)
    rcpt_to = fields.String(required=True)
    #: The delivery its VERP address named, if any (a purged one is no longer in the log).
    delivery_id = fields.UUID(required=True, allow_none=True)
    subject = fields.String(required=True)
    size = fields.Integer(required=True)
    note = fields.String(required=True)


KeptMailPage = page_schema(KeptMailSchema, "KeptMailPage")


class ExportSchema(Schema):
    service = fields.String(required=True)
    recipient = fields.Dict(required=True, allow_none=True)
    deliveries = fields.List(fields.Dict(), required=True)
    bounces = fields.List(fields.Dict(), required=True)
    newsletters_created = fields.List(fields.Dict(), required=True)
