"""The member's data export for the gateway: what this service holds about one member."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from experiments.domain.vocabulary import REPORT_REASONS
from experiments.entrypoints.schemas import ExperimentSchema


class ProfileSchema(Schema):
    name = fields.String(required=True)
    organisation = fields.String(required=True)
    role = fields.String(required=True, allow_none=True)
    active = fields.Boolean(required=True)
    erased = fields.Boolean(required=True)


class OwnedExperimentSchema(ExperimentSchema):
    """An experiment the member owns, as the API shows it, without its owners and comments."""

    class Meta:
        exclude = ("owners", "comment_count", "description_html", "follower_count", "following")


class OwnCommentSchema(Schema):
    id = fields.UUID(required=True)
    experiment_id = fields.UUID(required=True)
    body = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    edited_at = fields.DateTime(required=True, allow_none=True)
    hidden = fields.Boolean(required=True)


class OwnReportSchema(Schema):
    comment_id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REPORT_REASONS))
    created_at = fields.DateTime(required=True)


class OwnFollowSchema(Schema):
    experiment_id = fields.UUID(required=True)
    followed_at = fields.DateTime(required=True)


class MemberExportSchema(Schema):
    member_id = fields.UUID(required=True)
    profile = fields.Nested(ProfileSchema, required=True, allow_none=True)
    experiments_owned = fields.List(fields.Nested(OwnedExperimentSchema), required=True)
    comments = fields.List(fields.Nested(OwnCommentSchema), required=True)
    comment_reports = fields.List(fields.Nested(OwnReportSchema), required=True)
    follows = fields.List(fields.Nested(OwnFollowSchema), required=True)
