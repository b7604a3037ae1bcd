"""Every real answer matches the service's own OpenAPI document: declared status, content
type and body schema (what schemathesis checks through the gateway)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from members.adapters.models import Gathering, Member
from uskalla_kit.signed import SignedTokens

Auth = Callable[[Member], dict[str, str]]


def json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema (nullable becomes a null type; refs into $defs)."""
    if isinstance(node, list):
        return [json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    return out


class Checked:
    """A client whose every answer is checked against the document."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.spec = client.get("/openapi.json").json
        self.defs = {k: json_schema(v) for k, v in self.spec["components"]["schemas"].items()}
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, template: str, **kwargs: Any) -> Any:
        params = kwargs.pop("path", {})
        answer = self.client.open(template.format(**params), method=method.upper(), **kwargs)
        operation = self.spec["paths"][template][method]
        declared = operation["responses"]
        assert str(answer.status_code) in declared, (
            f"{method} {template} answered {answer.status_code}: not in {sorted(declared)}"
        )
        content = declared[str(answer.status_code)].get("content")
        if content:
            [(media_type, body)] = content.items()
            assert answer.mimetype == media_type, (template, answer.mimetype)
            if answer.is_json:
                schema = {**json_schema(body["schema"]), "$defs": self.defs}
                jsonschema.validate(
                    answer.json,
                    schema,
                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
                )
        self.seen.add((method, template, answer.status_code))
        return answer


@pytest.fixture
def api(client: FlaskClient) -> Checked:
    return Checked(client)


def test_every_endpoint_answers_as_documented(
    api: Checked,
    add_member: Callable[..., Member],
    add_gathering: Callable[..., Gathering],
    coordinator: Member,
    auth: Auth,
    events: Callable[..., list[dict[str, Any]]],
    unseal: Callable[[str], str],
) -> None:
    c = auth(coordinator)
    member = add_member(title=None, municipality_code=None)
    m = auth(member)
    # Joining, confirming, signing in.
    api("post", "/api/v1/members", json={"email": "new@example.fi", "name": "N", "consent": True})
    api("post", "/api/v1/members", json={"email": "x"})
    api("post", "/api/v1/members", data="{", content_type="application/json")
    api("post", "/api/v1/members", data="x", content_type="text/plain")
    token = unseal(events("members.member.registered.v1")[0]["data"]["token"])
    api("post", "/api/v1/members/confirm", json={"token": token})
    api("post", "/api/v1/members/confirm", json={"token": "unknown"})
    api("post", "/api/v1/auth/sign-in", json={"email": member.email})
    link = unseal(events("members.sign_in.requested.v1")[0]["data"]["token"])
    internal = {"X-Internal-Token": "test-internal-token"}
    api("post", "/internal/v1/sign-in/preview", json={"token": link}, headers=internal)
    api("post", "/internal/v1/sign-in/preview", json={"token": link})
    api("post", "/internal/v1/sign-in/preview", json={}, headers=internal)
    api("post", "/api/v1/auth/token", json={"token": link})
    api("post", "/internal/v1/sign-in/preview", json={"token": link}, headers=internal)
    api("post", "/api/v1/auth/token", json={"token": link})
    # Own profile and data.
    api("get", "/api/v1/members/me", headers=m)
    api("get", "/api/v1/members/me")
    api("patch", "/api/v1/members/me", json={"title": "Kehittäjä"}, headers=m)
    api("patch", "/api/v1/members/me", json={"language": "xx"}, headers=m)
    api("get", "/api/v1/members/me/export", headers=m)
    interests = {"themes": ["sote-uudistus"], "municipality_codes": ["091"], "digest": "daily"}
    api("get", "/api/v1/members/me/interests", headers=m)
    api("get", "/api/v1/members/me/interests")
    api("put", "/api/v1/members/me/interests", json=interests, headers=m)
    api("put", "/api/v1/members/me/interests", json={"themes": ["X"]}, headers=m)
    api("put", "/api/v1/members/me/interests", json=interests)
    api("get", "/api/v1/members/me/export", headers=auth(add_member(status="deactivated")))
    unsubscribe = SignedTokens("test-unsubscribe-secret", "unsubscribe").make(
        {"member_id": str(member.id), "list": "newsletter"}
    )
    api("post", "/api/v1/unsubscribe", query_string={"token": unsubscribe})
    digest = SignedTokens("test-unsubscribe-secret", "unsubscribe").make(
        {"member_id": str(member.id), "list": "digest"}
    )
    api("post", "/api/v1/unsubscribe", query_string={"token": digest})
    api("post", "/api/v1/unsubscribe", query_string={"token": "bad"})
    api("post", "/api/v1/unsubscribe")
    api("get", "/api/v1/municipalities")
    # Coordinators.
    api("get", "/api/v1/members", headers=c)
    api("get", "/api/v1/members", headers=m)
    api("get", "/api/v1/members", query_string={"per_page": 0}, headers=c)
    target = {"member_id": member.id}
    api("patch", "/api/v1/members/{member_id}", path=target, json={"role": "member"}, headers=c)
    api(
        "patch",
        "/api/v1/members/{member_id}",
        path={"member_id": uuid.uuid4()},
        json={"active": True},
        headers=c,
    )
    api(
        "patch",
        "/api/v1/members/{member_id}",
        path={"member_id": coordinator.id},
        json={"active": False},
        headers=c,
    )
    # Gatherings.
    draft = {
        "title": "Foorumi",
        "kind": "forum",
        "starts_at": "2031-03-01T10:00:00Z",
        "ends_at": "2031-03-01T12:00:00Z",
        "location": "Helsinki",
    }
    created = api("post", "/api/v1/gatherings", json=draft, headers=c).json
    api("post", "/api/v1/gatherings", json={}, headers=c)
    api("post", "/api/v1/gatherings", json=draft, headers=m)
    g = {"gathering_id": created["id"]}
    api("get", "/api/v1/gatherings/{gathering_id}", path=g, headers=c)
    api("get", "/api/v1/gatherings/{gathering_id}", path=g)
    api("patch", "/api/v1/gatherings/{gathering_id}", path=g, json={"capacity": 1}, headers=c)
    api("patch", "/api/v1/gatherings/{gathering_id}", path=g, json={"capacity": 0}, headers=c)
    api("post", "/api/v1/gatherings/{gathering_id}/publish", path=g, headers=c)
    api("post", "/api/v1/gatherings/{gathering_id}/publish", path=g, headers=c)
    api("get", "/api/v1/gatherings")
    api("get", "/api/v1/gatherings", query_string={"status": "draft"})
    api("get", "/api/v1/gatherings", query_string={"kind": "x"})
    api("post", "/api/v1/gatherings/{gathering_id}/registrations", path=g, headers=m)
    api("post", "/api/v1/gatherings/{gathering_id}/registrations", path=g, headers=c)
    api("post", "/api/v1/gatherings/{gathering_id}/registrations", path=g, headers=m)
    closed = add_gathering(registration_deadline=add_gathering().starts_at.replace(year=2020))
    api(
        "post",
        "/api/v1/gatherings/{gathering_id}/registrations",
        path={"gathering_id": closed.id},
        headers=m,
    )
    api("get", "/api/v1/gatherings/{gathering_id}", path=g, headers=m)
    api("get", "/api/v1/members/me/registrations", headers=m)
    api("get", "/api/v1/members/me/registrations")
    api("get", "/api/v1/members/me/registrations", query_string={"per_page": 0}, headers=m)
    api("get", "/api/v1/gatherings/{gathering_id}/registrations", path=g, headers=c)
    api("get", "/api/v1/gatherings/{gathering_id}/registrations", path=g, headers=m)
    api("delete", "/api/v1/gatherings/{gathering_id}/registrations/me", path=g, headers=m)
    api("delete", "/api/v1/gatherings/{gathering_id}/registrations/me", path=g, headers=m)
    api("get", "/api/v1/gatherings/{gathering_id}/calendar.ics", path=g)
    api(
        "get", "/api/v1/gatherings/{gathering_id}/calendar.ics", path={"gathering_id": uuid.uuid4()}
    )
    api("get", "/api/v1/gatherings/calendar.ics")
    api("post", "/api/v1/gatherings/{gathering_id}/cancel", path=g, headers=m)
    api("post", "/api/v1/gatherings/{gathering_id}/cancel", path=g, headers=c)
    api("post", "/api/v1/gatherings/{gathering_id}/cancel", path=g, headers=c)
    api("post", "/api/v1/gatherings/{gathering_id}/cancel", path={"gathering_id": created["id"]})
    api("get", "/api/v1/gatherings/{gathering_id}", path=g)
    api("get", "/api/v1/gatherings")
    # After the event.
    start = datetime.now(UTC) - timedelta(hours=1)
    held = {"gathering_id": add_gathering(starts_at=start, ends_at=start + timedelta(hours=2)).id}
    record = {"summary": "Kiitos!", "materials": [], "experiment_ids": []}
    api("put", "/api/v1/gatherings/{gathering_id}/record", path=held, json=record, headers=c)
    api("put", "/api/v1/gatherings/{gathering_id}/record", path=held, json={}, headers=c)
    api("put", "/api/v1/gatherings/{gathering_id}/record", path=g, json=record, headers=c)
    api("put", "/api/v1/gatherings/{gathering_id}/record", path=held, json=record, headers=m)
    came = {"attended": []}
    api("put", "/api/v1/gatherings/{gathering_id}/attendance", path=held, json=came, headers=c)
    api("put", "/api/v1/gatherings/{gathering_id}/attendance", path=g, json=came, headers=c)
    api("put", "/api/v1/gatherings/{gathering_id}/attendance", path=held, json={}, headers=c)
    api("put", "/api/v1/gatherings/{gathering_id}/attendance", path=held, json=came)
    api("get", "/api/v1/gatherings/{gathering_id}/attendance", path=held, headers=c)
    api("get", "/api/v1/gatherings/{gathering_id}/attendance", path=held, headers=m)
    api("get", "/api/v1/gatherings", query_string={"when": "past"})
    # Internal and erasure.
    who = {"member_id": member.id}
    api("get", "/internal/v1/members/{member_id}/export", path=who, headers=internal)
    api("get", "/internal/v1/members/{member_id}/export", path=who)
    api("delete", "/api/v1/members/me", headers=m)
    api("delete", "/api/v1/members/me", headers=m)
    api("get", "/internal/v1/members/{member_id}/export", path=who, headers=internal)

    documented = {(method, path) for path, ops in api.spec["paths"].items() for method in ops}
    assert {(method, path) for method, path, _ in api.seen} == documented
