"""The service's shape: views, event handlers and tasks parse, call one use case and shape the
answer; no entrypoint runs a query itself (the service layer does)."""

from __future__ import annotations

import re
from pathlib import Path

import notifications.entrypoints

#: A query, or a session call an entrypoint once made beside its use case.
QUERY = re.compile(r"(?<![.\w])(?:select|update|insert|delete)\(|\bsession\.\w+\(")


def test_no_entrypoint_runs_a_query() -> None:
    root = Path(notifications.entrypoints.__file__).parent
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if QUERY.search(line)
    ]
    assert not found
