"""Marshmallow fields every service's schemas share."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

from uskalla_kit.text import text_problem


class Text(fields.String):
    """A string PostgreSQL can store: valid Unicode (no lone surrogates) and no NUL characters."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text)
        if problem:
            raise ValidationError(problem)
        return text
