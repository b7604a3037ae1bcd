"""What text a request may carry: storable Unicode without NUL, in bodies and query strings."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

#: JSON nested deeper than this is refused before anything looks at it.
MAX_DEPTH = 32


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store this text, or None."""
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text (no lone surrogates)."
    return None


def json_text_errors(value: Any, path: str = "", depth: int = 0) -> dict[str, list[str]]:
    """Per-field messages for unstorable strings (keys too) and excessive nesting in JSON."""
    if depth > MAX_DEPTH:
        return {path or "_schema": [f"Nested deeper than {MAX_DEPTH} levels."]}
    errors: dict[str, list[str]] = {}
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            errors[path or "_schema"] = [problem]
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = text_problem(key)
            if problem:
                errors[path or "_schema"] = [f"A field name: {problem}"]
                continue
            errors.update(json_text_errors(item, where, depth + 1))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errors.update(json_text_errors(item, f"{path}.{i}" if path else str(i), depth + 1))
    return errors


def query_problem(raw_query: bytes) -> str | None:
    """Why a query string is malformed: not UTF-8 once percent-decoded."""
    try:
        unquote_to_bytes(raw_query.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return "The query string is not valid UTF-8."
    return None


def query_text_errors(raw_query: bytes) -> dict[str, list[str]]:
    """Per-parameter messages for values PostgreSQL could not store (a NUL, say)."""
    errors: dict[str, list[str]] = {}
    text = raw_query.decode("ascii", errors="replace")
    for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        problem = text_problem(value) or text_problem(name)
        if problem:
            errors.setdefault(name.replace("\x00", "?") or "_query", []).append(problem)
    return errors
