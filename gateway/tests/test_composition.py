"""The gateway's composed answers: one member export from every service, one OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from gateway.compose import GATEWAY_PATHS
from gateway.openapi_merge import merge
from stub_service import Seen, StubService

MEMBER = "7d3b2d0a-5a5e-4b59-8f0e-6a2f6a1f9c44"
EXPORT_PATH = f"/internal/v1/members/{MEMBER}/export"


def _exports(services: dict[str, StubService]) -> None:
    def part(name: str) -> Callable[[Seen], Any]:
        def answer(seen: Seen) -> Any:
            if seen.headers.get("X-Internal-Token") != "test-internal-token":
                return (401, {"status": 401, "title": "Unauthorized"})
            return (200, {"from": name, "things": [1, 2]})

        return answer

    for name, stub in services.items():
        stub.answers[("GET", EXPORT_PATH)] = part(name)


def test_export_merges_every_services_part(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    _exports(services)
    token = make_token(MEMBER)
    answer = client.get("/api/v1/members/me/export", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    document = answer.json
    assert document["member_id"] == MEMBER
    assert document["exported_at"].endswith("Z")
    for name in ("members", "experiments", "notifications"):
        assert document[name] == {"from": name, "things": [1, 2]}
        seen = next(s for s in services[name].seen if s.path == EXPORT_PATH)
        assert seen.headers["X-Request-ID"] == answer.headers["X-Request-ID"]
        assert "Authorization" not in seen.headers  # the internal token, not the member's
    assert answer.headers["Cache-Control"] == "no-store"


def test_export_as_a_download(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    _exports(services)
    answer = client.get(
        "/api/v1/members/me/export?download=1",
        headers={"Authorization": f"Bearer {make_token(MEMBER)}"},
    )
    assert answer.headers["Content-Disposition"].startswith("attachment;")


def test_export_needs_a_signed_in_member(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    _exports(services)
    answer = client.get("/api/v1/members/me/export")
    assert answer.status_code == 401
    assert not any(s.path == EXPORT_PATH for stub in services.values() for s in stub.seen)


def test_export_is_all_or_nothing(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    _exports(services)
    services["notifications"].answers[("GET", EXPORT_PATH)] = (500, {"status": 500})
    answer = client.get(
        "/api/v1/members/me/export", headers={"Authorization": f"Bearer {make_token(MEMBER)}"}
    )
    assert answer.status_code == 502
    assert "notifications" in answer.json["detail"]


def test_export_for_an_erased_member_is_401_not_a_fault(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    _exports(services)
    services["members"].answers[("GET", EXPORT_PATH)] = (404, {"status": 404, "title": "Not Found"})
    answer = client.get(
        "/api/v1/members/me/export", headers={"Authorization": f"Bearer {make_token(MEMBER)}"}
    )
    assert answer.status_code == 401
    assert answer.content_type == "application/problem+json"


def _document(service: str, member_schema: dict[str, Any]) -> dict[str, Any]:
    problem = {"type": "object", "properties": {"title": {"type": "string"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": service, "version": "1"},
        "paths": {
            f"/api/v1/{service}": {
                "get": {
                    "summary": f"List {service}",
                    "tags": [service],
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Member"}
                                }
                            },
                        },
                        "404": {
                            "description": "no",
                            "content": {
                                "application/problem+json": {
                                    "schema": {"$ref": "#/components/schemas/Problem"}
                                }
                            },
                        },
                    },
                }
            },
            "/internal/v1/members/{member_id}/export": {"get": {"summary": "internal"}},
            "/healthz": {"get": {"summary": "alive"}},
        },
        "components": {
            "schemas": {"Member": member_schema, "Problem": problem},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "tags": [{"name": service}],
    }


def test_merge_keeps_conflicting_components_apart_and_shared_ones_once() -> None:
    members_member = {"type": "object", "properties": {"email": {"type": "string"}}}
    experiments_member = {"type": "object", "properties": {"name": {"type": "string"}}}
    same = {"type": "object"}
    merged = merge(
        {
            "members": _document("members", members_member),
            "experiments": _document("experiments", experiments_member),
            "notifications": _document("notifications", same),
        },
        title="All",
    )
    schemas = merged["components"]["schemas"]
    assert "Member" not in schemas
    assert schemas["MembersMember"] == members_member
    assert schemas["ExperimentsMember"] == experiments_member
    assert schemas["NotificationsMember"] == same
    assert set(schemas) == {"MembersMember", "ExperimentsMember", "NotificationsMember", "Problem"}
    ref = merged["paths"]["/api/v1/members"]["get"]["responses"]["200"]["content"]
    assert ref["application/json"]["schema"]["$ref"] == "#/components/schemas/MembersMember"
    ref = merged["paths"]["/api/v1/experiments"]["get"]["responses"]["200"]["content"]
    assert ref["application/json"]["schema"]["$ref"] == "#/components/schemas/ExperimentsMember"
    problem = merged["paths"]["/api/v1/members"]["get"]["responses"]["404"]["content"]
    assert problem["application/problem+json"]["schema"]["$ref"] == "#/components/schemas/Problem"
    assert set(merged["paths"]) == {
        "/api/v1/members",
        "/api/v1/experiments",
        "/api/v1/notifications",
    }
    assert merged["paths"]["/api/v1/members"]["get"]["x-service"] == "members"
    assert [t["name"] for t in merged["tags"]] == ["experiments", "members", "notifications"]


def test_every_ref_in_the_merged_document_resolves() -> None:
    merged = merge(
        {
            "members": _document("members", {"type": "object", "required": ["a"]}),
            "experiments": _document("experiments", {"type": "string"}),
        },
        title="All",
    )

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if "$ref" in node else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(merged):
        _, _, kind, name = ref.split("/")
        assert name in merged["components"][kind], ref


def test_the_gateway_serves_the_merged_document(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    for name, stub in services.items():
        stub.answers[("GET", "/openapi.json")] = (200, _document(name, {"title": name}))
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    assert document["openapi"].startswith("3.")
    assert "/api/v1/members/me/export" in document["paths"]
    assert "/api/v1/experiments" in document["paths"]
    assert "ExperimentsMember" in document["components"]["schemas"]
    assert "x-unavailable-services" not in document


def test_the_merged_document_survives_a_missing_service(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["members"].answers[("GET", "/openapi.json")] = (200, _document("members", {}))
    services["experiments"].answers[("GET", "/openapi.json")] = (503, {})
    services["notifications"].delay = 3.0
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert sorted(answer.json["x-unavailable-services"]) == ["experiments", "notifications"]
    assert "/api/v1/members" in answer.json["paths"]


def test_api_docs_show_the_operations_without_any_cdn(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    for name, stub in services.items():
        stub.answers[("GET", "/openapi.json")] = (200, _document(name, {"title": name}))
    answer = client.get("/api/docs")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "/api/v1/experiments" in page and "List experiments" in page
    assert "/api/v1/members/me/export" in page
    assert "https://" not in page.split("<body>")[0]  # no external scripts or styles


@pytest.mark.parametrize("path", sorted(GATEWAY_PATHS))
def test_the_gateways_own_paths_allow_only_their_documented_methods(
    client: FlaskClient, services: dict[str, StubService], path: str
) -> None:
    """Not forwarded for another method: 405 (or OPTIONS' 200) with an `Allow` of the methods
    the merged document lists for the path, besides the implicit HEAD and OPTIONS."""
    documented = {method.upper() for method in GATEWAY_PATHS[path]} | {"HEAD", "OPTIONS"}
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        answer = client.open(path, method=method)
        assert answer.status_code == (200 if method == "OPTIONS" else 405), method
        assert {m.strip() for m in answer.headers["Allow"].split(",")} == documented
    assert not any(stub.seen for stub in services.values())
