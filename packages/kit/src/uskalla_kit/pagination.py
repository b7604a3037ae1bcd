"""List endpoints: `?page=1&per_page=20` (max 100) in, `{items, page, per_page, total}` out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate


class PageQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A response schema for a page of `item`s (named for the OpenAPI document)."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
            "total": fields.Integer(required=True),
        },
        name=name,
    )


def page_of(items: list[Any], page: int, per_page: int, total: int) -> dict[str, Any]:
    return {"items": items, "page": page, "per_page": per_page, "total": total}
