"""Every service's shape: views, event handlers and tasks parse, call one use case and shape
the answer; no entrypoint runs a query itself (the service layer does, one transaction per use
case). import-linter keeps the layers' import order (`make lint`); this keeps the queries out."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

#: A query or a session call, or a read helper an entrypoint once called beside its use case.
QUERY = re.compile(
    r"(?<![.\w])(?:select|update|insert|delete)\(|\bsession\.\w+\(|\.query\("
    r"|\.counts\(|\.registration_of\(|\bsearch_experiments\("
)


@pytest.mark.parametrize("service", ["members", "experiments", "notifications"])
def test_no_entrypoint_runs_a_query(service: str) -> None:
    root = Path(importlib.import_module(f"{service}.entrypoints").__file__ or "").parent
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if QUERY.search(line)
    ]
    assert not found
