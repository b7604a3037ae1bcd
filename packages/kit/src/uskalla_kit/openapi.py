"""Each service's OpenAPI 3 document, built from the views' own declarations with apispec.

A view says what it takes and gives with `@documented(...)`; `/openapi.json` is made from the
app's URL map, so the document cannot drift from the routes that exist.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validates_schema

from uskalla_kit.auth import require_identity
from uskalla_kit.internal import HEADER, require_internal
from uskalla_kit.problems import json_body

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__openapi__"


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


PROBLEM_TEXT = {
    400: "Malformed request",
    401: "Not signed in or invalid token",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    414: "URL too long",
    415: "Not JSON",
    422: "Validation failed",
    429: "Too many requests",
    502: "Bad gateway",
    504: "Gateway timeout",
}


@dataclass
class Operation:
    summary: str
    body: type[Schema] | Schema | None = None
    query: type[Schema] | None = None
    responses: dict[int, type[Schema] | Schema | str | None] = field(default_factory=dict)
    auth: str | None = None  # None (anyone), "member", "coordinator", "internal"
    problems: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    content_types: dict[int, str] = field(default_factory=dict)


class Changes(Schema):
    """A change naming at least one field (`{}` is refused, and documented as minProperties 1)."""

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of the fields.")


#: Who may call an operation: anyone, a signed-in member, a coordinator, the gateway (the
#: internal token), or a coordinator or the gateway.
AUTH = (None, "member", "coordinator", "internal", "coordinator or internal")


class UndeclaredAnswer(RuntimeError):
    """A view answered with a status its declaration does not list, or data where it declared
    none: a bug in the view or its declaration (500 for the client, a failed test for us)."""


def documented(
    summary: str,
    *,
    body: type[Schema] | Schema | None = None,
    query: type[Schema] | None = None,
    responses: dict[int, type[Schema] | Schema | str | None] | None = None,
    auth: str | None = None,
    problems: tuple[int, ...] = (),
    tags: tuple[str, ...] = (),
    content_types: dict[int, str] | None = None,
) -> Callable[[F], F]:
    """Declare a view's operation and enforce it: who may call (checked first), the JSON body
    and the query string (loaded with their schemas, given to the view as `body` and `query`),
    and the answer (JSON data is shaped by the response schema declared for its status)."""
    if auth not in AUTH:
        raise ValueError(f"auth must be one of {AUTH}, not {auth!r}")
    operation = Operation(
        summary,
        body,
        query,
        responses or {200: None},
        auth,
        problems,
        tags,
        content_types or {},
    )

    body_schema = _schema(body) if body is not None else None
    query_schema = _schema(query) if query is not None else None

    def enforce(view: F) -> F:
        parameters = inspect.signature(view).parameters
        takes = {name: name in parameters for name in ("body", "query")}
        for name, schema in (("body", body), ("query", query)):
            if takes[name] != (schema is not None):
                raise TypeError(
                    f"{view.__qualname__} must take `{name}` exactly when it declares a {name} "
                    "schema (the loaded data is passed to it; nothing is loaded twice)"
                )

        @functools.wraps(view)
        def enforced(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            check_caller(operation.auth)
            if body_schema is not None:
                kwargs["body"] = body_schema.load(json_body())
            if query_schema is not None:
                kwargs["query"] = query_schema.load(query_arguments(query_schema))
            return answer(operation, view(*args, **kwargs))

        setattr(enforced, ATTRIBUTE, operation)
        return cast(F, enforced)

    return enforce


def check_caller(auth: str | None) -> None:
    """401/403 unless the caller is who the operation is for."""
    if auth == "coordinator or internal":
        auth = "internal" if HEADER in request.headers else "coordinator"
    if auth == "internal":
        require_internal()
    elif auth is not None:
        require_identity("coordinator" if auth == "coordinator" else None)


def query_arguments(schema: Schema) -> dict[str, Any]:
    """The query string as the schema takes it: every value of a list field, else the first."""
    lists = {key for key, f in _load_keys(schema).items() if isinstance(f, fields.List)}
    args = request.args
    return {key: args.getlist(key) if key in lists else args[key] for key in args}


def answer(operation: Operation, value: Any) -> ResponseReturnValue:
    """A view's return made the declared answer: a Response (alone or with a status) passes
    untouched; data, `(data, status)` or `(data, status, headers)` becomes JSON holding only
    what the status's response schema declares.

    The data is projected onto the schema's fields rather than dumped or validated: views give
    JSON-ready values (ISO times, string ids) that `dump` would need as Python objects, and on a
    100-member page projecting costs 1.2 ms where validating costs 8 ms more (jsonify: 0.6 ms).
    The services' OpenAPI tests check the values against the document instead."""
    data, status, headers = value, 200, None
    if isinstance(value, tuple):
        data, status, *rest = value
        headers = rest[0] if rest else None
    if isinstance(data, Response):
        return cast(ResponseReturnValue, value)
    if status not in operation.responses:
        raise UndeclaredAnswer(f"status {status} is not declared (only {operation.responses})")
    schema = operation.responses[status]
    if schema is None or isinstance(schema, str):
        if data is not None:
            raise UndeclaredAnswer(f"status {status} declares no JSON body, yet data was given")
        response = Response(status=status)
    else:
        response = jsonify(declared(_schema(schema), data))
        response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def declared(schema: Schema, data: Any) -> Any:
    """`data` with only the fields `schema` declares (nested ones too), values as they are."""
    if schema.many:
        return [declared_object(schema, item) for item in data]
    return declared_object(schema, data)


def declared_object(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    keys = _dump_keys(schema)
    return {key: _declared_value(keys[key], item) for key, item in data.items() if key in keys}


def _declared_value(field_: fields.Field[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field_, fields.Nested):
        nested = field_.schema
        return (
            [declared_object(nested, v) for v in value] if field_.many else declared(nested, value)
        )
    if isinstance(field_, fields.List):
        return [_declared_value(field_.inner, v) for v in value]
    if isinstance(field_, fields.Dict) and field_.value_field is not None:
        return {k: _declared_value(field_.value_field, v) for k, v in value.items()}
    return value


@functools.cache
def _dump_keys(schema: Schema) -> dict[str, fields.Field[Any]]:
    return {f.data_key or name: f for name, f in schema.dump_fields.items()}


@functools.cache
def _load_keys(schema: Schema) -> dict[str, fields.Field[Any]]:
    return {f.data_key or name: f for name, f in schema.load_fields.items()}


def _schema(schema: type[Schema] | Schema) -> Schema:
    """One instance per schema class, made once: answers and the key caches reuse it (a new
    instance per answer would make every answer a new cache entry)."""
    return _instance(schema) if isinstance(schema, type) else schema


@functools.cache
def _instance(schema: type[Schema]) -> Schema:
    return schema()


def build_spec(app: Flask, title: str, version: str = "1.0.0") -> dict[str, Any]:
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
    )
    spec.components.schema("Problem", schema=ProblemSchema)
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.security_scheme(
        "internal", {"type": "apiKey", "in": "header", "name": "X-Internal-Token"}
    )
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        operation: Operation | None = getattr(view, ATTRIBUTE, None)
        if operation is None:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"}
                if name.endswith("id")
                else {"type": "string"},
            }
            for name in rule.arguments
        ]
        operations: dict[str, Any] = {}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations[method.lower()] = _operation(operation, parameters, method)
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    converter = spec.plugins[0].converter  # type: ignore[attr-defined]
    for key, name in converter.refs.items():
        if issubclass(key[0], Changes):
            document["components"]["schemas"][name]["minProperties"] = 1
    return document


def _operation(op: Operation, parameters: list[dict[str, Any]], method: str) -> dict[str, Any]:
    result: dict[str, Any] = {"summary": op.summary, "responses": {}}
    if op.tags:
        result["tags"] = list(op.tags)
    params = list(parameters)
    if op.query is not None:
        params.append({"in": "query", "schema": op.query})
    if params:
        result["parameters"] = params
    if op.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.body}},
        }
    for status, schema in op.responses.items():
        content_type = op.content_types.get(status, "application/json")
        response: dict[str, Any] = {"description": "OK" if status < 300 else str(status)}
        if isinstance(schema, str):
            response["content"] = {content_type: {"schema": {"type": "string"}}}
        elif schema is not None:
            response["content"] = {content_type: {"schema": schema}}
        result["responses"][str(status)] = response
    problems = _problems(op, bool(parameters))
    if op.auth in ("member", "coordinator"):
        result["security"] = [{"bearer": []}]
    if op.auth == "internal":
        result["security"] = [{"internal": []}]
    if op.auth == "coordinator or internal":
        result["security"] = [{"bearer": []}, {"internal": []}]
    for status in sorted(problems):
        result["responses"].setdefault(
            str(status),
            {
                "description": PROBLEM_TEXT.get(status, "Problem"),
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            },
        )
    return result


def _problems(op: Operation, has_path_parameters: bool) -> set[int]:
    """The problem statuses an operation can answer, from what it takes and who may call it."""
    problems = set(op.problems) | {400, 414, 429}
    if op.body is not None:
        problems |= {400, 413, 415, 422}
    if op.query is not None:
        problems |= {422}
    if has_path_parameters:
        problems |= {404}
    if op.auth is not None:
        problems |= {401}
    if op.auth in ("coordinator", "coordinator or internal"):
        problems |= {403}
    return problems


def init_app(app: Flask, title: str) -> None:
    cache: dict[str, Any] = {}

    @app.get("/openapi.json")
    def openapi() -> Response:
        if "spec" not in cache:
            cache["spec"] = build_spec(app, title)
        return jsonify(cache["spec"])
