"""RFC 9457 problem details: every error a client sees, with per-field messages for bad input."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, json, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from uskalla_kit.text import json_text_errors, query_problem, query_text_errors

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem_document(problem: Problem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extra,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    return body


def problem_response(problem: Problem) -> Response:
    body = problem_document(problem)
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_JSON)
    for key, value in problem.headers.items():
        response.headers[key] = value
    return response


def field_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages into {"field.sub": [messages]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(field_errors(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for i, item in enumerate(messages):
            flat.update(field_errors(item, f"{prefix}.{i}" if prefix else str(i)))
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def validation_problem(errors: dict[str, list[str]], detail: str = "") -> Problem:
    return Problem(
        422,
        "Validation failed",
        detail or "Some fields are not valid; see errors.",
        errors=errors,
    )


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 problem (malformed) / 422 (not an object)."""
    if not request.is_json:
        raise Problem(415, "Unsupported media type", "Send the body as application/json.")
    try:
        data = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "Malformed JSON", f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise Problem(400, "Malformed JSON", "The body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise validation_problem({"_schema": ["The body must be a JSON object."]})
    errors = json_text_errors(data)
    if errors:
        raise validation_problem(errors)
    return data


#: Longer request targets are refused (gunicorn's own limit is just above this).
MAX_TARGET = 8000


def check_request_target() -> None:
    """Refuse over-long URLs and query strings that are not UTF-8 text, before any view."""
    if len(request.full_path) > MAX_TARGET:
        raise Problem(414, "URI Too Long", f"Keep the URL under {MAX_TARGET} characters.")
    problem = query_problem(request.query_string)
    if problem:
        raise Problem(400, "Bad query string", problem)
    errors = query_text_errors(request.query_string)
    if errors:
        raise validation_problem(errors)


def init_app(app: Flask) -> None:
    app.before_request(check_request_target)

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        return problem_response(validation_problem(field_errors(exc.messages)))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return problem_response(
            Problem(status, exc.name, exc.description or exc.name, headers=headers)
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return problem_response(
            Problem(500, "Internal Server Error", "Something went wrong; it has been logged.")
        )
