"""Each service's OpenAPI 3 document, built from the views' own declarations with apispec.

A view says what it takes and gives with `@documented(...)`; `/openapi.json` is made from the
app's URL map, so the document cannot drift from the routes that exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, jsonify
from marshmallow import Schema, fields

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
    """Declare a view's operation for the OpenAPI document (no behaviour of its own)."""

    def mark(view: F) -> F:
        setattr(
            view,
            ATTRIBUTE,
            Operation(
                summary,
                body,
                query,
                responses or {200: None},
                auth,
                problems,
                tags,
                content_types or {},
            ),
        )
        return view

    return mark


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
    return spec.to_dict()


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
    if op.auth in ("member", "coordinator", "internal"):
        problems |= {401}
    if op.auth == "coordinator":
        problems |= {403}
    return problems


def init_app(app: Flask, title: str) -> None:
    cache: dict[str, Any] = {}

    @app.get("/openapi.json")
    def openapi() -> Response:
        if "spec" not in cache:
            cache["spec"] = build_spec(app, title)
        return jsonify(cache["spec"])
