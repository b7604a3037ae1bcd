"""Every signed-in endpoint checks the caller's current role and state here, not the token's:
an old token of a demoted coordinator is a member's, of a deactivated member 403, of an
erased member 401."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from members.adapters.models import Gathering, Member

Auth = Callable[[Member], dict[str, str]]

START = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
DRAFT = {
    "title": "Foorumi",
    "kind": "forum",
    "starts_at": START.isoformat(),
    "ends_at": (START + timedelta(hours=2)).isoformat(),
    "location": "Kuntatalo",
}
#: (method, path, who may, body): every operation the OpenAPI document says needs a token,
#: erasing oneself last (it ends the caller).
SIGNED_IN: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("get", "/api/v1/members/me", "member", None),
    ("patch", "/api/v1/members/me", "member", {"title": "Kokeilija"}),
    ("get", "/api/v1/members/me/export", "member", None),
    ("get", "/api/v1/members/me/interests", "member", None),
    (
        "put",
        "/api/v1/members/me/interests",
        "member",
        {"themes": ["kokeilut"], "municipality_codes": [], "digest": "daily"},
    ),
    ("get", "/api/v1/members/me/registrations", "member", None),
    ("get", "/api/v1/members", "coordinator", None),
    ("patch", "/api/v1/members/{member_id}", "coordinator", {"role": "coordinator"}),
    ("post", "/api/v1/gatherings", "coordinator", DRAFT),
    ("patch", "/api/v1/gatherings/{gathering_id}", "coordinator", {"title": "Uusi"}),
    ("post", "/api/v1/gatherings/{gathering_id}/publish", "coordinator", None),
    ("post", "/api/v1/gatherings/{gathering_id}/cancel", "coordinator", None),
    ("get", "/api/v1/gatherings/{gathering_id}/registrations", "coordinator", None),
    ("get", "/api/v1/gatherings/{gathering_id}/attendance", "coordinator", None),
    ("put", "/api/v1/gatherings/{gathering_id}/attendance", "coordinator", {"attended": []}),
    (
        "put",
        "/api/v1/gatherings/{gathering_id}/record",
        "coordinator",
        {"summary": "", "materials": [], "experiment_ids": []},
    ),
    ("post", "/api/v1/gatherings/{gathering_id}/registrations", "member", None),
    ("delete", "/api/v1/gatherings/{gathering_id}/registrations/me", "member", None),
    ("delete", "/api/v1/members/me", "member", None),
]


def test_the_table_covers_every_signed_in_operation(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    signed_in = {
        (method, path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == [{"bearer": []}]
    }
    assert signed_in == {(method, path) for method, path, _, _ in SIGNED_IN}


def answers(
    client: FlaskClient, headers: dict[str, str], gathering: Gathering, other: Member
) -> dict[tuple[str, str], int]:
    # Listing drafts needs a coordinator too (the token is optional there).
    drafts = client.get("/api/v1/gatherings?status=draft", headers=headers)
    found = {("get", "/api/v1/gatherings?status=draft"): drafts.status_code}
    for method, path, _, body in SIGNED_IN:
        url = path.format(gathering_id=gathering.id, member_id=other.id)
        answer = client.open(url, method=method.upper(), json=body, headers=headers)
        found[method, path] = answer.status_code
    return found


@pytest.fixture
def world(
    client: FlaskClient,
    coordinator: Member,
    add_member: Callable[..., Member],
    add_gathering: Callable[..., Gathering],
    make_token: Callable[..., str],
) -> Callable[[str], tuple[dict[str, str], Gathering, Member]]:
    """world(what happened) -> the old token's headers of a coordinator to whom it happened
    (through the API, by another coordinator), a gathering and another member."""

    def make(what: str) -> tuple[dict[str, str], Gathering, Member]:
        caller = add_member(role="coordinator")
        old = {"Authorization": f"Bearer {make_token(str(caller.id), 'coordinator')}"}
        boss = {"Authorization": f"Bearer {make_token(str(coordinator.id), 'coordinator')}"}
        url = f"/api/v1/members/{caller.id}"
        if what == "demoted":
            assert client.patch(url, json={"role": "member"}, headers=boss).status_code == 200
        elif what == "deactivated":
            assert client.patch(url, json={"active": False}, headers=boss).status_code == 200
        elif what == "erased":
            assert client.delete("/api/v1/members/me", headers=old).status_code == 202
        return old, add_gathering(), add_member()

    return make


def test_a_demoted_coordinators_old_token_is_a_members(
    client: FlaskClient, world: Callable[[str], tuple[dict[str, str], Gathering, Member]]
) -> None:
    found = answers(client, *world("demoted"))
    coordinators_only = {(m, p) for m, p, who, _ in SIGNED_IN if who == "coordinator"}
    for operation, status in found.items():
        if operation in coordinators_only or operation[1].endswith("status=draft"):
            assert status == 403, operation
        else:
            assert status < 300, operation  # a member's own operations still work


def test_a_deactivated_members_old_token_is_refused_everywhere(
    client: FlaskClient, world: Callable[[str], tuple[dict[str, str], Gathering, Member]]
) -> None:
    found = answers(client, *world("deactivated"))
    assert set(found.values()) == {403}, found


def test_an_erased_members_old_token_is_refused_everywhere(
    client: FlaskClient, world: Callable[[str], tuple[dict[str, str], Gathering, Member]]
) -> None:
    found = answers(client, *world("erased"))
    assert set(found.values()) == {401}, found
