"""The shared fields load exactly what their OpenAPI description promises."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from marshmallow import Schema, ValidationError
from uskalla_kit.fields import (
    EMAIL_PATTERN,
    NOT_BLANK_PATTERN,
    ONE_LINE_PATTERN,
    TEXT_PATTERN,
    WEB_ADDRESS_PATTERN,
    EmailAddress,
    Flag,
    QueryFlag,
    Text,
    WebAddress,
    not_blank,
    one_line,
)
from uskalla_kit.openapi import Changes, build_spec, documented
from uskalla_kit.text import text_problem


class Body(Schema):
    text = Text()
    email = EmailAddress()
    flag = Flag()
    web = WebAddress()
    title = Text(validate=not_blank())
    subject = Text(validate=one_line())


def ecma_matches(pattern: str, text: str) -> bool:
    """As an OpenAPI validator reads `^...$`: the whole string (Python's `$` would also match
    before a final line break)."""
    assert pattern.startswith("^") and pattern.endswith("$")
    return re.fullmatch(pattern[1:-1], text) is not None


class Query(Schema):
    flag = QueryFlag()


class Change(Changes):
    name = Text()


@pytest.mark.parametrize(
    "text", ["plain", "tab\tand\r\nlines\n", "\x00", "a\rb", "\x1b[31m", "\x85", "\ufffe", "ä€"]
)
def test_the_text_pattern_refuses_what_the_field_refuses(text: str) -> None:
    assert (re.match(TEXT_PATTERN, text) is None) == (text_problem(text) is not None)


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("anna.b+x@Example.FI", True),
        ("a@b.fi", True),
        ("a..b@example.fi", False),
        (".a@example.fi", False),
        ("a@-example.fi", False),
        ("a@example", False),
        ("ä@example.fi", False),
        ("x" * 65 + "@example.fi", False),
        ("a@" + "b" * 250 + ".fi", False),
        ("a@b.fi\n", False),
    ],
)
def test_an_address_loads_exactly_when_it_matches_the_pattern(email: str, valid: bool) -> None:
    matches = ecma_matches(EMAIL_PATTERN, email) and len(email) <= 254
    assert matches or not valid
    if valid:
        assert Body().load({"email": email})["email"] == email.rpartition("@")[0] + "@" + (
            email.rpartition("@")[2].lower()
        )
    else:
        with pytest.raises(ValidationError):
            Body().load({"email": email})


@pytest.mark.parametrize("value", [0, 1, "true", None, "yes"])
def test_a_body_flag_is_a_json_boolean_only(value: object) -> None:
    with pytest.raises(ValidationError):
        Body().load({"flag": value})
    assert Body().load({"flag": False}) == {"flag": False}


def test_a_query_flag_is_spelled_true_or_false() -> None:
    assert Query().load({"flag": "true"}) == {"flag": True}
    assert Query().load({"flag": "false"}) == {"flag": False}
    for value in ("1", "0", "yes", "True", ""):
        with pytest.raises(ValidationError):
            Query().load({"flag": value})


def test_a_change_names_a_field_and_says_so() -> None:
    with pytest.raises(ValidationError):
        Change().load({})
    app = Flask("fields")

    @app.patch("/thing")
    @documented("change", body=Change)
    def change(body: dict[str, str]) -> dict[str, str]:
        return body

    schemas = build_spec(app, "fields")["components"]["schemas"]
    assert schemas["Change"]["minProperties"] == 1
    assert schemas["Change"]["properties"]["name"]["pattern"] == TEXT_PATTERN


@pytest.mark.parametrize(
    ("field", "pattern", "text"),
    [
        *[
            ("web", WEB_ADDRESS_PATTERN, text)
            for text in (
                "https://www.espoo.fi/kokeilu?x=1#y",
                "http://a.example:8080",
                "https://example.fi/ä",
                "https://example.fi\n",
                "https://example.fi/a b",
                "ftp://example.fi",
                "http://localhost",
                "https://-x.fi",
            )
        ],
        *[
            ("title", NOT_BLANK_PATTERN, text)
            for text in ("a", " x\r\n", "\tx", " ", "\ufeff", "\n", "a\x00", "a\rb")
        ],
        *[
            ("subject", ONE_LINE_PATTERN, text)
            for text in ("a", "\tx y", " ", "a\n", "a\r\nb", "\u3000", "a\x7f")
        ],
    ],
)
def test_a_patterned_field_loads_exactly_what_its_pattern_matches(
    field: str, pattern: str, text: str
) -> None:
    try:
        Body().load({field: text})
        loaded = True
    except ValidationError:
        loaded = False
    assert loaded == ecma_matches(pattern, text)


def test_a_field_with_its_own_pattern_documents_that_pattern() -> None:
    app = Flask("patterns")

    @app.post("/thing")
    @documented("post", body=Body)
    def post(body: dict[str, str]) -> dict[str, str]:
        return body

    properties = build_spec(app, "patterns")["components"]["schemas"]["Body"]["properties"]
    assert properties["web"]["pattern"] == WEB_ADDRESS_PATTERN
    assert properties["title"]["pattern"] == NOT_BLANK_PATTERN
    assert properties["subject"]["pattern"] == ONE_LINE_PATTERN
    assert properties["text"]["pattern"] == TEXT_PATTERN
