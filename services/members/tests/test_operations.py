"""Operators' command, the bounce consumer, settings checks and the OpenAPI document."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from members.adapters.models import Member
from members.cli import cli
from members.config import Settings
from uskalla_events import load_payload, new_envelope
from uskalla_kit import Runtime
from uskalla_kit.settings import SettingError

Events = Callable[..., list[dict[str, Any]]]


def test_grant_role_command(
    runtime: Runtime, add_member: Callable[..., Member], events: Events
) -> None:
    member = add_member(email="operaattori@example.fi")
    result = CliRunner().invoke(cli, ["grant-role", "Operaattori@Example.fi", "coordinator"])
    assert result.exit_code == 0, result.output
    with runtime.db.transaction() as session:
        assert session.get(Member, member.id).role == "coordinator"  # type: ignore[union-attr]
    [event] = events("members.member.updated.v1")
    assert event["data"]["role"] == "coordinator"
    unknown = CliRunner().invoke(cli, ["grant-role", "nobody@example.fi", "coordinator"])
    assert unknown.exit_code == 1 and "no active member" in unknown.output
    bad_role = CliRunner().invoke(cli, ["grant-role", member.email, "admin"])
    assert bad_role.exit_code == 2


def test_bounce_marks_the_address_undeliverable_once(
    runtime: Runtime, add_member: Callable[..., Member]
) -> None:
    member = add_member(email="bounce@example.fi")
    envelope = new_envelope(
        load_payload(
            "notifications.address.bounced.v1", {"email": "Bounce@example.fi", "reason": "5.1.1"}
        )
    )
    assert runtime.events.consumer.handle(envelope) is True
    assert runtime.events.consumer.handle(envelope) is False  # a redelivery is a no-op
    with runtime.db.transaction() as session:
        assert session.get(Member, member.id).undeliverable is True  # type: ignore[union-attr]
    unknown = new_envelope(
        load_payload("notifications.address.bounced.v1", {"email": "x@example.fi"})
    )
    assert runtime.events.consumer.handle(unknown) is True


def test_private_key_must_match_the_public_key(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from uskalla_devstack.keys import ensure_dev_keys

    monkeypatch.setenv("MEMBERS_DATABASE_URL", "postgresql://x@127.0.0.1/none")
    other_private, _ = ensure_dev_keys(tmp_path / "other")
    monkeypatch.setenv("JWT_PRIVATE_KEY_FILE", str(other_private))
    with pytest.raises(SettingError, match="does not match"):
        Settings.from_env()
    monkeypatch.setenv("JWT_PRIVATE_KEY_FILE", str(tmp_path / "other" / "jwt-public.pem"))
    with pytest.raises(SettingError, match="not a PEM private key"):
        Settings.from_env()


def test_unsubscribe_secret_is_required_outside_dev(
    service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMBERS_DATABASE_URL", "postgresql://x@127.0.0.1/none")
    monkeypatch.delenv("UNSUBSCRIBE_SECRET")
    assert Settings.from_env().unsubscribe_secret == "dev-unsubscribe-secret"
    monkeypatch.setenv("USKALLA_ENV", "production")
    with pytest.raises(SettingError, match="UNSUBSCRIBE_SECRET"):
        Settings.from_env()


PUBLIC = {
    ("post", "/api/v1/members"),
    ("post", "/api/v1/members/confirm"),
    ("post", "/api/v1/auth/sign-in"),
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/members/me"),
    ("patch", "/api/v1/members/me"),
    ("delete", "/api/v1/members/me"),
    ("get", "/api/v1/members/me/export"),
    ("get", "/api/v1/members/me/interests"),
    ("put", "/api/v1/members/me/interests"),
    ("get", "/api/v1/members/me/registrations"),
    ("get", "/api/v1/members"),
    ("patch", "/api/v1/members/{member_id}"),
    ("post", "/api/v1/unsubscribe"),
    ("get", "/api/v1/municipalities"),
    ("get", "/api/v1/gatherings"),
    ("post", "/api/v1/gatherings"),
    ("get", "/api/v1/gatherings/{gathering_id}"),
    ("patch", "/api/v1/gatherings/{gathering_id}"),
    ("post", "/api/v1/gatherings/{gathering_id}/publish"),
    ("post", "/api/v1/gatherings/{gathering_id}/cancel"),
    ("get", "/api/v1/gatherings/{gathering_id}/attendance"),
    ("put", "/api/v1/gatherings/{gathering_id}/attendance"),
    ("put", "/api/v1/gatherings/{gathering_id}/record"),
    ("get", "/api/v1/gatherings/calendar.ics"),
    ("post", "/api/v1/gatherings/{gathering_id}/registrations"),
    ("get", "/api/v1/gatherings/{gathering_id}/registrations"),
    ("delete", "/api/v1/gatherings/{gathering_id}/registrations/me"),
    ("get", "/api/v1/gatherings/{gathering_id}/calendar.ics"),
    ("get", "/internal/v1/members/{member_id}/export"),
    ("post", "/internal/v1/sign-in/preview"),
}


def test_every_endpoint_is_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    operations = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert operations == PUBLIC
    me = spec["paths"]["/api/v1/members/me"]["get"]
    assert me["security"] == [{"bearer": []}] and "401" in me["responses"]
    register = spec["paths"]["/api/v1/gatherings/{gathering_id}/registrations"]["post"]
    assert {"201", "401", "404", "409", "422"} <= set(register["responses"])


def test_routes_without_documentation_do_not_exist(runtime: Runtime) -> None:
    app = runtime.create_app()
    undocumented = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/", "/internal/"))
        and not hasattr(app.view_functions[rule.endpoint], "__openapi__")
    }
    assert undocumented == set()


def test_uuid_in_path_is_checked(client: FlaskClient) -> None:
    assert client.get(f"/api/v1/gatherings/{uuid.uuid4()}/calendar.ics").status_code == 404
    assert client.get("/api/v1/gatherings/not-an-id/calendar.ics").status_code == 404


def test_text_postgresql_cannot_store_is_422_not_500(
    client: FlaskClient,
    add_member: Callable[..., Member],
    auth: Callable[[Member], dict[str, str]],
) -> None:
    coordinator = add_member(role="coordinator")
    join = {"email": "a@example.fi", "consent": True}
    for bad in ("nul\x00byte", "lone \ud800 surrogate"):
        answer = client.post("/api/v1/members", json={**join, "name": bad})
        assert answer.status_code == 422 and "name" in answer.json["errors"]
        patch = client.patch(
            "/api/v1/members/me", json={"organisation": bad}, headers=auth(coordinator)
        )
        assert patch.status_code == 422 and "organisation" in patch.json["errors"]
        gathering = client.post(
            "/api/v1/gatherings",
            json={
                "title": bad,
                "kind": "forum",
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T12:00:00Z",
                "online_url": f"https://x.fi/{bad}",
            },
            headers=auth(coordinator),
        )
        assert gathering.status_code == 422
        assert {"title", "online_url"} <= set(gathering.json["errors"])
    search = client.get("/api/v1/members?q=%00", headers=auth(coordinator))
    assert search.status_code == 422
