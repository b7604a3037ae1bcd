"""The bundled API viewer's data: the merged document's operations grouped by tag."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    service: str
    auth: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: str | None = None
    responses: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"{self.method}-{anchor(self.path)}"


def anchor(text: str) -> str:
    """Text as an HTML id: letters and digits kept, every run of anything else one "-"."""
    return "-".join("".join(c if c.isalnum() else " " for c in text).split()) or "x"


def _schema_text(content: dict[str, Any] | None) -> str | None:
    if not content:
        return None
    for media, spec in content.items():
        return f"{media}\n" + json.dumps(spec.get("schema", {}), indent=2, ensure_ascii=False)
    return None


def _parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for parameter in operation.get("parameters", []):
        if "name" in parameter:
            found.append(parameter)
        elif isinstance(parameter.get("schema"), dict):  # a whole schema as query
            for name, prop in parameter["schema"].get("properties", {}).items():
                found.append({"name": name, "in": parameter.get("in", "query"), "schema": prop})
    return found


def operations(document: dict[str, Any]) -> list[tuple[str, list[Operation]]]:
    groups: dict[str, list[Operation]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHOD_ORDER:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            security = operation.get("security") or []
            op = Operation(
                method=method.upper(),
                path=path,
                summary=operation.get("summary", ""),
                service=operation.get("x-service", ""),
                auth="bearer" if any("bearer" in s for s in security) else "",
                parameters=_parameters(operation),
                body=_schema_text(operation.get("requestBody", {}).get("content")),
                responses=[
                    (status, spec.get("description", ""), _schema_text(spec.get("content")))
                    for status, spec in sorted(operation.get("responses", {}).items())
                ],
            )
            tag = (operation.get("tags") or [op.service or "other"])[0]
            groups.setdefault(tag, []).append(op)
    return sorted(groups.items())
