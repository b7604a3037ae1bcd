"""`@documented` enforces what it declares: who may call, the body and query schemas, and the
answer (only declared statuses, only declared fields)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from marshmallow import Schema, fields, validate
from uskalla_kit import internal, openapi
from uskalla_kit.auth import TokenVerifier
from uskalla_kit.fields import Text
from uskalla_kit.openapi import ATTRIBUTE, UndeclaredAnswer, answer, build_spec, documented
from uskalla_kit.runtime import make_app

TOKEN = "kit-internal-token"


class Inner(Schema):
    kept = fields.String(required=True)


class Item(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    inner = fields.Nested(Inner, allow_none=True)
    many = fields.List(fields.Nested(Inner))


class NewItem(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=20))
    colour = Text(load_default="blue", validate=validate.OneOf(["blue", "red"]))


class Filter(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    tag = fields.List(Text())


def app(jwt_keys: tuple[Path, Path]) -> Flask:
    application = make_app(
        "kit",
        max_body_bytes=200,
        verifier=TokenVerifier(
            jwt_keys[1].read_text(), issuer="uskalla-members", audience="uskalla"
        ),
        checks={},
    )
    internal.init_app(application, TOKEN)

    @application.get("/members-only")
    @documented("members", responses={200: Item}, auth="member")
    def members_only() -> Any:
        return {"id": 1, "name": "m"}

    @application.get("/coordinators-only")
    @documented("coordinators", responses={200: Item}, auth="coordinator")
    def coordinators_only() -> Any:
        return {"id": 1, "name": "c"}

    @application.get("/gateway-only")
    @documented("gateway", responses={200: Item}, auth="internal")
    def gateway_only() -> Any:
        return {"id": 1, "name": "g"}

    @application.post("/items")
    @documented("create", body=NewItem, responses={201: Item})
    def create(body: dict[str, Any]) -> Any:
        return {"id": 2, "name": f"{body['name']} ({body['colour']})"}, 201, {"Location": "/2"}

    @application.get("/items")
    @documented("list", query=Filter, responses={200: Item})
    def listing(query: dict[str, Any]) -> Any:
        return {"id": query["page"], "name": ",".join(query.get("tag", []))}

    @application.get("/leaky")
    @documented("leaky", responses={200: Item})
    def leaky() -> Any:
        return {
            "id": 3,
            "name": "n",
            "password": "secret",
            "inner": {"kept": "k", "hidden": "h"},
            "many": [{"kept": "a", "hidden": "b"}],
        }

    @application.get("/wrong-status")
    @documented("wrong", responses={200: Item})
    def wrong_status() -> Any:
        return {"id": 4, "name": "n"}, 201

    @application.get("/file")
    @documented("csv", responses={200: "text/csv"}, content_types={200: "text/csv"})
    def file() -> Response:
        return Response("a,b\r\n", mimetype="text/csv")

    @application.delete("/items/<int:item_id>")
    @documented("delete", responses={204: None})
    def delete(item_id: int) -> Any:
        return None, 204

    return application


@pytest.fixture
def client(jwt_keys: tuple[Path, Path]) -> FlaskClient:
    return app(jwt_keys).test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_member_operations_need_a_valid_token(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    assert client.get("/members-only").status_code == 401
    assert client.get("/members-only", headers=bearer("nonsense")).status_code == 401
    answer = client.get("/members-only", headers=bearer(make_token()))
    assert answer.status_code == 200
    assert answer.json == {"id": 1, "name": "m"}


def test_coordinator_operations_refuse_members(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    assert client.get("/coordinators-only").status_code == 401
    assert client.get("/coordinators-only", headers=bearer(make_token())).status_code == 403
    coordinator = bearer(make_token(role="coordinator"))
    assert client.get("/coordinators-only", headers=coordinator).status_code == 200


def test_internal_operations_need_the_internal_token(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    assert client.get("/gateway-only").status_code == 401
    coordinator = bearer(make_token(role="coordinator"))
    assert client.get("/gateway-only", headers=coordinator).status_code == 401
    wrong = {internal.HEADER: "guess"}
    assert client.get("/gateway-only", headers=wrong).status_code == 401
    assert client.get("/gateway-only", headers={internal.HEADER: TOKEN}).status_code == 200


def test_the_body_is_loaded_with_its_schema_and_given_to_the_view(client: FlaskClient) -> None:
    answer = client.post("/items", json={"name": "x"})
    assert answer.status_code == 201
    assert answer.headers["Location"] == "/2"
    assert answer.json == {"id": 2, "name": "x (blue)"}


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"name": "x"}', "text/plain", 415),
        (b'{"name": ', "application/json", 400),
        (b'{"name": "' + b"x" * 300 + b'"}', "application/json", 413),
        (b"[]", "application/json", 422),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    client: FlaskClient, data: bytes, content_type: str, status: int
) -> None:
    answer = client.post("/items", data=data, content_type=content_type)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"


def test_an_invalid_body_is_422_with_a_message_per_field(client: FlaskClient) -> None:
    answer = client.post("/items", json={"name": "", "colour": "green", "extra": 1})
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"name", "colour", "extra"}
    nul = client.post("/items", json={"name": "a\u0000b"})
    assert nul.status_code == 422
    assert set(nul.json["errors"]) == {"name"}


def test_the_query_is_loaded_with_its_schema(client: FlaskClient) -> None:
    answer = client.get("/items?page=3&tag=a&tag=b")
    assert answer.json == {"id": 3, "name": "a,b"}
    assert client.get("/items").json == {"id": 1, "name": ""}
    refused = client.get("/items?page=0&other=1")
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"page", "other"}


def test_an_undeclared_field_never_reaches_the_client(client: FlaskClient) -> None:
    assert client.get("/leaky").json == {
        "id": 3,
        "name": "n",
        "inner": {"kept": "k"},
        "many": [{"kept": "a"}],
    }


def test_an_undeclared_status_is_a_bug(client: FlaskClient) -> None:
    assert client.get("/wrong-status").status_code == 500
    operation = getattr(client.application.view_functions["wrong_status"], ATTRIBUTE)
    with pytest.raises(UndeclaredAnswer):
        answer(operation, ({"id": 4, "name": "n"}, 201))
    csv = getattr(client.application.view_functions["file"], ATTRIBUTE)
    with pytest.raises(UndeclaredAnswer):
        answer(csv, {"not": "csv"})


def test_responses_pass_untouched_and_empty_answers_stay_empty(client: FlaskClient) -> None:
    csv = client.get("/file")
    assert (csv.status_code, csv.mimetype, csv.data) == (200, "text/csv", b"a,b\r\n")
    deleted = client.delete("/items/7")
    assert (deleted.status_code, deleted.data) == (204, b"")


def test_a_view_taking_what_it_does_not_declare_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="body"):

        @documented("no schema")
        def view(body: dict[str, Any]) -> Any:
            return body

    with pytest.raises(TypeError, match="query"):

        @documented("loaded twice", query=Filter)
        def by_hand() -> Any:
            return {}

    with pytest.raises(ValueError, match="auth"):
        documented("who?", auth="admin")


def test_the_document_says_who_may_call(client: FlaskClient) -> None:
    paths = build_spec(client.application, "kit")["paths"]
    assert paths["/members-only"]["get"]["security"] == [{"bearer": []}]
    assert set(paths["/coordinators-only"]["get"]["responses"]) >= {"401", "403"}
    assert paths["/gateway-only"]["get"]["security"] == [{"internal": []}]
    assert "requestBody" in paths["/items"]["post"]


def test_answers_keep_no_memory_of_their_own(client: FlaskClient) -> None:
    """Answering many times grows no cache: the schema and its keys are made once."""

    client.get("/leaky")
    before = openapi._dump_keys.cache_info().currsize
    for _ in range(50):
        assert client.get("/leaky").status_code == 200
    assert openapi._dump_keys.cache_info().currsize == before
