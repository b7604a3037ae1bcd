"""One OpenAPI document from the services' documents: paths joined, components kept apart.

A component name used by two services for different things (each has its own `Member`, say)
is renamed to `<Service><Name>` in every service that uses it, and that service's `$ref`s are
rewritten; a name whose definitions are identical (the shared `Problem`) is kept once.
"""

from __future__ import annotations

import copy
from typing import Any

PUBLIC_PREFIX = "/api/v1/"

#: What the gateway itself may answer on any operation, before or instead of a service.
EDGE_RESPONSES = {
    "400": "Malformed request (e.g. a query string that is not UTF-8)",
    "401": "The token sent is not valid",
    "413": "Body too large",
    "414": "URL too long",
    "429": "Too many requests",
    "502": "A service could not be reached",
    "504": "A service did not answer in time",
}


def merge(
    documents: dict[str, dict[str, Any]], *, title: str, extra_paths: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Merge `{service: document}` into one document of the public API."""
    docs = {name: copy.deepcopy(doc) for name, doc in documents.items()}
    renames = _conflicting_names(docs)
    for service, doc in docs.items():
        mapping = {(kind, name): f"{service.capitalize()}{name}" for kind, name in renames[service]}
        if mapping:
            _rename_components(doc, mapping)
    merged: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1.0.0"},
        "paths": {},
        "components": {},
    }
    tags: dict[str, Any] = {}
    for service in sorted(docs):
        doc = docs[service]
        _add_paths(merged["paths"], doc.get("paths", {}), service)
        for kind, entries in doc.get("components", {}).items():
            merged["components"].setdefault(kind, {}).update(entries)
        for tag in doc.get("tags", []):
            tags.setdefault(tag.get("name"), tag)
    for path, item in (extra_paths or {}).items():
        merged["paths"].setdefault(path, {}).update(item)  # the gateway answers these itself
    for item in merged["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                _add_edge_responses(operation["responses"])
    merged["paths"] = dict(sorted(merged["paths"].items()))
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _add_paths(target: dict[str, Any], paths: dict[str, Any], service: str) -> None:
    for path, item in sorted(paths.items()):
        if not path.startswith(PUBLIC_PREFIX):
            continue  # internal and operations endpoints are not the public API
        operations = target.setdefault(path, {})
        for method, operation in item.items():
            if isinstance(operation, dict):
                operation.setdefault("x-service", service)
            operations.setdefault(method, operation)


def _conflicting_names(docs: dict[str, dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    """For each service, the (kind, name) components that another service defines differently."""
    definitions: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for service, doc in docs.items():
        for kind, entries in doc.get("components", {}).items():
            for name, value in entries.items():
                definitions.setdefault((kind, name), []).append((service, value))
    renames: dict[str, set[tuple[str, str]]] = {service: set() for service in docs}
    for key, uses in definitions.items():
        first = uses[0][1]
        if len(uses) > 1 and any(value != first for _, value in uses[1:]):
            for service, _ in uses:
                renames[service].add(key)
    return renames


def _rename_components(doc: dict[str, Any], mapping: dict[tuple[str, str], str]) -> None:
    components = doc.get("components", {})
    for (kind, old), new in mapping.items():
        components[kind][new] = components[kind].pop(old)
    refs = {
        f"#/components/{kind}/{old}": f"#/components/{kind}/{new}"
        for (kind, old), new in mapping.items()
    }
    security = {old: new for (kind, old), new in mapping.items() if kind == "securitySchemes"}
    _rewrite(doc, refs, security)


def _rewrite(node: Any, refs: dict[str, str], security: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in refs:
            node["$ref"] = refs[ref]
        for key, value in list(node.items()):
            if key == "security" and isinstance(value, list) and security:
                node[key] = [{security.get(k, k): v for k, v in req.items()} for req in value]
            else:
                _rewrite(value, refs, security)
    elif isinstance(node, list):
        for item in node:
            _rewrite(item, refs, security)


def _add_edge_responses(responses: dict[str, Any]) -> None:
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for status, description in EDGE_RESPONSES.items():
        responses.setdefault(
            status,
            {"description": description, "content": {"application/problem+json": problem}},
        )
