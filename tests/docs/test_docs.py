"""The repository documents itself: docs/api.md says what the merged OpenAPI serves, and nothing
points at documents outside the repository."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPERATION = re.compile(
    r"`((?:GET|POST|PUT|PATCH|DELETE)(?:/(?:GET|POST|PUT|PATCH|DELETE))*) (/api/v1/[^`\s?]*)"
)
PARAMETER = re.compile(r"\{[^}]+\}")
SERVICES = ("members", "experiments", "notifications")

#: Operations docs/api.md fixes that no service serves yet: the second phase's features, each
#: struck off as it lands (its issue builds it).
NOT_YET_BUILT: set[tuple[str, str]] = set()


def documented() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "api.md").read_text()
    found = set()
    for methods, path in OPERATION.findall(text):
        for method in methods.split("/"):
            found.add((method, PARAMETER.sub("{}", path.rstrip("."))))
    return found


@pytest.fixture
def merged_openapi(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, postgres_server_url: str
) -> dict[str, Any]:
    from gateway.compose import GATEWAY_PATHS
    from gateway.openapi_merge import merge

    documents = {}
    for service in SERVICES:
        # The document is built without touching the database.
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", postgres_server_url)
        runtime = importlib.import_module(f"{service}.bootstrap").build_runtime()
        try:
            documents[service] = runtime.create_app().test_client().get("/openapi.json").json
        finally:
            runtime.db.dispose()
    return merge(documents, title="Uskalla API", extra_paths=GATEWAY_PATHS)


def served(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), PARAMETER.sub("{}", path))
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/api/v1/") and method in {"get", "post", "put", "patch", "delete"}
    }


def test_api_md_lists_exactly_what_is_served(merged_openapi: dict[str, Any]) -> None:
    docs, api = documented(), served(merged_openapi)
    assert sorted(api - docs) == [], "served but not in docs/api.md"
    assert sorted(docs - api - NOT_YET_BUILT) == [], "in docs/api.md but not served"
    assert sorted(NOT_YET_BUILT & api) == [], "built now: strike it off NOT_YET_BUILT"


def test_nothing_points_at_documents_outside_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"shared/(API|DESIGN|STYLE)\.md|shared/data\b|\.\./shared/(?!tools/)")
    pointing = [
        f"{name}:{n}"
        for name in files
        if (ROOT / name).suffix in {".py", ".md", ".toml", ".yaml", ".yml", ".j2", ".html", ""}
        and (ROOT / name).is_file()
        for n, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1)
        if outside.search(line) and name != "tests/docs/test_docs.py"
    ]
    assert pointing == []
