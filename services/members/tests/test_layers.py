"""The service's shape: views and event handlers parse, call use cases and shape the answer;
no entrypoint runs a query itself (the service layer does, one transaction per use case)."""

from __future__ import annotations

import re
from pathlib import Path

import members.entrypoints

#: A query, or a read helper that an entrypoint once called beside its use case.
QUERY = re.compile(r"\bselect\(|\bsession\.\w+\(|\.query\(|\.counts\(|\.registration_of\(")


def test_no_entrypoint_runs_a_query() -> None:
    root = Path(members.entrypoints.__file__).parent
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if QUERY.search(line)
    ]
    assert not found
