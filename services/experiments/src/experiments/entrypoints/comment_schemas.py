"""Marshmallow schemas for comments, reports and moderation."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate
from uskalla_kit.fields import Text, not_blank
from uskalla_kit.pagination import PageQuery, page_schema

from experiments.domain.vocabulary import REPORT_REASONS
from experiments.entrypoints.schemas import PersonSchema

BODY_MAX = 5000


class CommentBodySchema(Schema):
    body = Text(
        required=True,
        validate=[
            validate.Length(min=1, max=BODY_MAX),
            not_blank("A comment cannot be blank."),
        ],
    )


class ReportSchema(Schema):
    reason = Text(required=True, validate=validate.OneOf(REPORT_REASONS))


class ReportResultSchema(Schema):
    status = fields.String(required=True)
    hidden = fields.Boolean(required=True)


class CommentSchema(Schema):
    id = fields.UUID(required=True)
    experiment_id = fields.UUID(required=True)
    author = fields.Nested(PersonSchema, required=True)
    body = fields.String(required=True)
    body_html = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    edited_at = fields.DateTime(required=True, allow_none=True)


class ReportCountsSchema(Schema):
    spam = fields.Integer(required=True)
    offensive = fields.Integer(required=True)
    off_topic = fields.Integer(required=True)
    other = fields.Integer(required=True)


class ModeratedCommentSchema(CommentSchema):
    hidden = fields.Boolean(required=True)
    hidden_reason = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(("reports", "coordinator"))
    )
    hidden_at = fields.DateTime(required=True, allow_none=True)
    restored_at = fields.DateTime(required=True, allow_none=True)
    report_count = fields.Integer(required=True)
    reports = fields.Nested(ReportCountsSchema, required=True)


class CommentPageQuery(PageQuery):
    class Meta:
        unknown = EXCLUDE


class ModerationQuery(PageQuery):
    class Meta:
        unknown = EXCLUDE

    status = Text(load_default="all", validate=validate.OneOf(("all", "reported", "hidden")))


CommentPageSchema = page_schema(CommentSchema, "CommentPage")
ModerationPageSchema = page_schema(ModeratedCommentSchema, "ModeratedCommentPage")
