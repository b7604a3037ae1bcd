"""The shared fields load exactly what their OpenAPI description promises."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from marshmallow import Schema, ValidationError
from uskalla_kit.fields import EMAIL_PATTERN, TEXT_PATTERN, EmailAddress, Flag, QueryFlag, Text
from uskalla_kit.openapi import Changes, build_spec, documented
from uskalla_kit.text import text_problem


class Body(Schema):
    text = Text()
    email = EmailAddress()
    flag = Flag()


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
    ],
)
def test_an_address_loads_exactly_when_it_matches_the_pattern(email: str, valid: bool) -> None:
    matches = re.match(EMAIL_PATTERN, email) is not None and len(email) <= 254
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
