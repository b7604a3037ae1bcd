"""Marshmallow fields every service's schemas share, each documented as strictly as it loads:
a generated client that keeps to the OpenAPI document never sends what they refuse."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate

from uskalla_kit.text import text_problem

#: What `text_problem` lets through, as an OpenAPI (ECMA 262) pattern: no C0 control but tab
#: and line breaks, CR only before LF, no DEL, C1, U+FFFE or U+FFFF.
TEXT_PATTERN = r"^(?:[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff\r]|\r\n)*$"
_TEXT = r"(?:[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff\r]|\r\n)"
_LINE = r"[^\u0000-\u0008\u000a-\u001f\u007f-\u009f\ufffe\uffff]"
#: A visible character: none of the controls `Text` refuses, nor white space (U+FEFF named,
#: as ECMA 262 counts it white space and Python does not).
_VISIBLE = r"[^\s\ufeff\u0000-\u001f\u007f-\u009f\ufffe\uffff]"

#: `Text` with at least one visible character, and the same on one line (tab allowed).
NOT_BLANK_PATTERN = rf"^{_TEXT}*{_VISIBLE}{_TEXT}*$"
ONE_LINE_PATTERN = rf"^{_LINE}*{_VISIBLE}{_LINE}*$"


class Pattern(validate.Regexp):
    """A `Regexp` the whole value must match, as the documented pattern means in ECMA 262
    (Python's `$` would let a trailing line break through)."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def not_blank(error: str = "Cannot be blank.") -> Pattern:
    """Refuses `Text` without a visible character (documented as `NOT_BLANK_PATTERN`)."""
    return Pattern(NOT_BLANK_PATTERN, error=error)


def one_line(error: str = "One line, not blank.") -> Pattern:
    """Refuses `Text` with a line break or without a visible character (`ONE_LINE_PATTERN`)."""
    return Pattern(ONE_LINE_PATTERN, error=error)


#: E-mail addresses the network takes: a dot-atom local part and a domain of letters, digits
#: and inner hyphens with a top-level label of letters (RFC 5321, without the rarely used
#: quoted, IP-literal and internationalised forms), at most 254 characters.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64})*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
EMAIL = re.compile(EMAIL_PATTERN)

#: Web addresses: http or https, a host name with a top-level label of letters, an optional
#: port, then anything but spaces and control characters (what `Text` refuses).
WEB_ADDRESS_PATTERN = (
    r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
    r"(?::[0-9]{1,5})?(?:[/?#][^\u0000-\u0020\u007f-\u009f\ufffe\uffff]*)?$"
)
WEB_ADDRESS = re.compile(WEB_ADDRESS_PATTERN)


class Text(fields.String):
    """A string PostgreSQL can store: valid Unicode (no lone surrogates), no NUL or other
    control characters (documented as a pattern). A `Regexp` validator's pattern is documented
    instead (an OpenAPI schema has one pattern), so it must refuse those characters itself,
    as `not_blank`, `one_line` and patterns of ASCII letters and digits do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(isinstance(v, validate.Regexp) for v in self.validators):
            self.metadata = {"pattern": TEXT_PATTERN, **self.metadata}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text)
        if problem:
            raise ValidationError(problem)
        return text


class EmailAddress(Text):
    """An e-mail address matching `EMAIL_PATTERN` (documented as that pattern), local part at
    most 64 characters, the whole at most 254; the domain lower-cased."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Length(min=3, max=254))
        kwargs["metadata"] = {"pattern": EMAIL_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        local, _, domain = text.rpartition("@")
        if not EMAIL.fullmatch(text) or len(local) > 64:
            raise ValidationError("Not a valid e-mail address.")
        return f"{local}@{domain.lower()}"


class WebAddress(Text):
    """A web address matching `WEB_ADDRESS_PATTERN` (documented as that pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["metadata"] = {"pattern": WEB_ADDRESS_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not WEB_ADDRESS.fullmatch(text):
            raise ValidationError("Not a web address (http or https).")
        return text


class Flag(fields.Boolean):
    """A JSON boolean, only `true` or `false` (not 0, 1 or "yes")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class QueryFlag(fields.Boolean):
    """A boolean in a query string, spelled `true` or `false`."""

    truthy = {"true"}
    falsy = {"false"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("true", "false"):
            raise self.make_error("invalid")
        return str(value) == "true"
