"""Marshmallow schemas for experiments: what a well-formed request is, what a response holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from uskalla_kit.fields import Pattern, Text, WebAddress, not_blank
from uskalla_kit.pagination import PageQuery, page_schema
from uskalla_reference.municipalities import municipality_codes

from experiments.domain.stages import INITIAL
from experiments.domain.vocabulary import KINDS, LANGUAGES, OUTCOMES, SCALES, STAGES

URL = WebAddress(validate=validate.Length(max=2000))
SLUG = Pattern(r"^[a-z0-9][a-z0-9-]{0,63}$", error="Not a theme slug.")


def text(maximum: int, *, required: bool = False, blank: bool = True) -> Text:
    """A text field with a length limit (and, unless `blank`, at least one visible character)."""
    checks: list[Any] = [validate.Length(max=maximum)]
    if not blank:
        checks.append(not_blank())
    if required:
        return Text(required=True, validate=checks)
    return Text(validate=checks)


#: A Statistics Finland code from the shipped list (documented as that enum).
MUNICIPALITY = validate.OneOf(
    sorted(municipality_codes()), error="Unknown municipality code (Statistics Finland, 3 digits)."
)


def unique_list(item: fields.Field[Any], maximum: int, default: Any = None) -> fields.List[Any]:
    def no_duplicates(values: list[Any]) -> None:
        if len(set(values)) != len(values):
            raise ValidationError("Each value may appear only once.")

    checks: list[Callable[[Any], Any]] = [validate.Length(max=maximum), no_duplicates]
    unique = {"uniqueItems": True}  # the document says what no_duplicates enforces
    if default is None:
        return fields.List(item, validate=checks, metadata=unique)
    return fields.List(item, load_default=default, validate=checks, metadata=unique)


class ExperimentFields(Schema):
    """The fields of an experiment, every one optional (a PATCH); creation requires some."""

    title = text(200, blank=False)
    summary = text(1000, blank=False)
    description = text(20_000)
    kind = Text(validate=validate.OneOf(KINDS))
    scale = Text(validate=validate.OneOf(SCALES))
    themes = unique_list(Text(validate=SLUG), 10)
    municipality_codes = unique_list(Text(validate=MUNICIPALITY), 400)
    organisation = text(200)
    problem = text(5000)
    goals = text(5000)
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    links = unique_list(URL, 20)
    looking_for = Text(allow_none=True, validate=validate.Length(max=2000))
    language = Text(validate=validate.OneOf(LANGUAGES))

    @validates_schema
    def _dates(self, data: dict[str, Any], **_: Any) -> None:
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            raise ValidationError("The end date is before the start date.", "ends_on")


class CreateExperimentSchema(ExperimentFields):
    title = text(200, required=True, blank=False)
    summary = text(1000, required=True, blank=False)
    kind = Text(required=True, validate=validate.OneOf(KINDS))
    scale = Text(required=True, validate=validate.OneOf(SCALES))
    description = Text(load_default="", validate=validate.Length(max=20_000))
    themes = unique_list(Text(validate=SLUG), 10, default=list)
    municipality_codes = unique_list(Text(validate=MUNICIPALITY), 400, default=list)
    links = unique_list(URL, 20, default=list)
    language = Text(load_default="fi", validate=validate.OneOf(LANGUAGES))
    stage = Text(
        load_default="idea",
        validate=validate.OneOf(
            INITIAL, error="A new experiment starts as idea, planning or running."
        ),
    )


class OwnersChangeSchema(Schema):
    add = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=50))
    remove = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=50))


class UpdateExperimentSchema(ExperimentFields):
    owners = fields.Nested(OwnersChangeSchema)


class StageSchema(Schema):
    stage = Text(required=True, validate=validate.OneOf(STAGES))


class EvaluationSchema(Schema):
    outcome = Text(required=True, validate=validate.OneOf(OUTCOMES))
    rating = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10))
    what_worked = Text(load_default="", validate=validate.Length(max=5000))
    what_failed = Text(load_default="", validate=validate.Length(max=5000))
    lessons = Text(load_default="", validate=validate.Length(max=5000))
    next_steps = Text(load_default="", validate=validate.Length(max=5000))


class ExperimentListQuery(PageQuery):
    class Meta:
        unknown = EXCLUDE

    q = Text(validate=validate.Length(min=1, max=200))
    theme = Text(validate=SLUG)
    municipality_code = Text(validate=MUNICIPALITY)
    stage = Text(validate=validate.OneOf(STAGES))
    kind = Text(validate=validate.OneOf(KINDS))
    scale = Text(validate=validate.OneOf(SCALES))
    outcome = Text(validate=validate.OneOf(OUTCOMES))
    language = Text(validate=validate.OneOf(LANGUAGES))
    sort = Text(validate=validate.OneOf(("newest", "updated", "relevance")))
    #: `me`: the caller's own experiments, drafts included (a member only).
    owner = Text(validate=validate.OneOf(("me",)))


class PersonSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)


class EvaluationOutSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    rating = fields.Integer(required=True)
    what_worked = fields.String(required=True)
    what_failed = fields.String(required=True)
    lessons = fields.String(required=True)
    next_steps = fields.String(required=True)
    evaluated_at = fields.DateTime(required=True)


class ExperimentSummarySchema(Schema):
    id = fields.UUID(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    scale = fields.String(required=True, validate=validate.OneOf(SCALES))
    themes = fields.List(fields.String(), required=True)
    municipality_codes = fields.List(fields.String(), required=True)
    organisation = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    outcome = fields.String(required=True, allow_none=True)
    rating = fields.Integer(required=True, allow_none=True)
    starts_on = fields.Date(required=True, allow_none=True)
    ends_on = fields.Date(required=True, allow_none=True)
    published_at = fields.DateTime(required=True, allow_none=True)
    updated_at = fields.DateTime(required=True)


class ExperimentSchema(ExperimentSummarySchema):
    description = fields.String(required=True)
    problem = fields.String(required=True)
    goals = fields.String(required=True)
    links = fields.List(fields.String(), required=True)
    looking_for = fields.String(required=True, allow_none=True)
    published = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    owners = fields.List(fields.Nested(PersonSchema), required=True)
    evaluation = fields.Nested(EvaluationOutSchema, required=True, allow_none=True)
    comment_count = fields.Integer(required=True)
    #: The description in the comments' plain-text format: escaped, <p>, <br> and links.
    description_html = fields.String(required=True)
    follower_count = fields.Integer(required=True)
    #: Whether the caller follows it (false without a token).
    following = fields.Boolean(required=True)


ExperimentPageSchema = page_schema(ExperimentSummarySchema, "ExperimentPage")


class FollowStateSchema(Schema):
    experiment_id = fields.UUID(required=True)
    following = fields.Boolean(required=True)
    followed_at = fields.DateTime(required=True, allow_none=True)
    follower_count = fields.Integer(required=True)


class FollowedExperimentSchema(ExperimentSummarySchema):
    followed_at = fields.DateTime(required=True)


FollowedPageSchema = page_schema(FollowedExperimentSchema, "FollowedExperimentPage")


class ThemeSchema(Schema):
    slug = fields.String(required=True)
    name_fi = fields.String(required=True)
    name_sv = fields.String(required=True)
    name_en = fields.String(required=True)


class ThemeListSchema(Schema):
    items = fields.List(fields.Nested(ThemeSchema), required=True)


class StatsSchema(Schema):
    total = fields.Integer(required=True)
    by_theme = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_stage = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_outcome = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_municipality = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_start_year = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class FilterQuery(ExperimentListQuery):
    """The list's filters without paging (stats, CSV)."""

    class Meta:
        unknown = EXCLUDE
        exclude = ("page", "per_page", "owner")
