"""What text a request may carry: storable Unicode without control characters, in bodies and
query strings. Tab and newline (and a newline written CR LF, as browsers send a textarea) are
the only control characters any field takes; everything else (NUL, C0, DEL, C1, U+FFFE/FFFF)
would break a feed, a CSV file, a calendar or a terminal somewhere downstream."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

#: JSON nested deeper than this is refused before anything looks at it.
MAX_DEPTH = 32


#: Control characters no text field takes: C0 but tab and LF, CR not before LF, DEL, C1, and
#: the noncharacters U+FFFE and U+FFFF (not XML either).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]|\r(?!\n)")


def text_problem(text: str) -> str | None:
    """Why this text is refused (PostgreSQL could not store it, or it holds control
    characters), or None."""
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text (no lone surrogates)."
    found = CONTROL.search(text)
    if found:
        return (
            f"Must not contain control characters (found U+{ord(found.group()[0]):04X}); "
            "only tab and line breaks are allowed."
        )
    return None


def printable(text: str) -> str:
    """`text` without the characters `text_problem` refuses, for output that must stay
    well-formed (XML, CSV, iCalendar) whatever was stored before the rule."""
    return CONTROL.sub("", text.encode("utf-8", "replace").decode("utf-8"))


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


def normalise_email(address: str) -> str:
    """An e-mail address as every service stores and compares it: trimmed, all lower-case.

    The whole address, local part included: the network's mail systems treat it without
    regard to case, and one member must not become two by the case they typed."""
    return address.strip().lower()
