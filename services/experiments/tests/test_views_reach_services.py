"""Experiments' views reach their use cases one way, as members' and notifications' do: through
`services()`, the use cases built once at start; none imports a use-case module itself."""

from __future__ import annotations

import re
from pathlib import Path

import experiments.entrypoints

USE_CASE_IMPORT = re.compile(r"^\s*(?:from|import)\s+experiments\.service_layer\b")


def test_views_reach_use_cases_only_through_services() -> None:
    root = Path(experiments.entrypoints.__file__ or "").parent
    views = sorted(root.glob("http_*.py"))
    assert views
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in views
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if USE_CASE_IMPORT.search(line)
    ]
    assert not found
