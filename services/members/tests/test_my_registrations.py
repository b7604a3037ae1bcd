"""GET /members/me/registrations: the caller's own registrations, upcoming first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from members.adapters.models import Gathering, Member, Registration
from uskalla_kit import Runtime

Auth = Callable[[Member], dict[str, str]]
URL = "/api/v1/members/me/registrations"


def test_upcoming_first_soonest_first_then_the_past_latest_first(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    add_gathering: Callable[..., Gathering],
    auth: Auth,
) -> None:
    me, someone = add_member(), add_member()
    start = datetime.now(UTC).replace(microsecond=0)

    def at(days: int, **fields: Any) -> Gathering:
        s = start + timedelta(days=days)
        return add_gathering(starts_at=s, ends_at=s + timedelta(hours=2), **fields)

    later, soon = at(30, title="Myöhemmin"), at(3, title="Pian", capacity=1, kind="webinar")
    long_ago, lately = at(-60, title="Kauan sitten"), at(-2, title="Äskettäin")
    cancelled = at(10, title="Peruttu", status="cancelled", online_url="https://meet.example.fi/x")
    untouched = at(5, title="Ei minun")
    # Someone holds the only place at the soon one: I wait there.
    assert client.post(f"{path(soon)}/registrations", headers=auth(someone)).status_code == 201
    assert client.post(f"{path(soon)}/registrations", headers=auth(me)).status_code == 201
    assert client.post(f"{path(later)}/registrations", headers=auth(me)).status_code == 201
    assert client.post(f"{path(untouched)}/registrations", headers=auth(someone)).status_code == 201
    with runtime.db.transaction() as session:  # past and cancelled ones cannot be joined now
        for g in (long_ago, lately, cancelled):
            session.add(Registration(gathering_id=g.id, member_id=me.id, status="registered"))

    answer = client.get(URL, headers=auth(me))
    assert answer.status_code == 200
    page = answer.json
    assert (page["page"], page["per_page"], page["total"]) == (1, 20, 5)
    assert [(i["title"], i["status"], i["upcoming"], i["cancelled"]) for i in page["items"]] == [
        ("Pian", "waitlisted", True, False),
        ("Peruttu", "registered", True, True),
        ("Myöhemmin", "registered", True, False),
        ("Äskettäin", "registered", False, False),
        ("Kauan sitten", "registered", False, False),
    ]
    first = page["items"][0]
    assert first == {
        "gathering_id": str(soon.id),
        "title": "Pian",
        "kind": "webinar",
        "starts_at": soon.starts_at.isoformat(),
        "ends_at": soon.ends_at.isoformat(),
        "location": "Kuntatalo, Helsinki",
        "online_url": None,
        "language": "fi",
        "cancelled": False,
        "upcoming": True,
        "status": "waitlisted",
        "registered_at": first["registered_at"],
        "promoted_at": None,
        "url": f"https://uskalla.test/gatherings/{soon.id}",
    }
    assert page["items"][1]["online_url"] == "https://meet.example.fi/x"
    second = client.get(URL, query_string={"page": 2, "per_page": 2}, headers=auth(me)).json
    assert [i["title"] for i in second["items"]] == ["Myöhemmin", "Äskettäin"]
    assert client.get(URL, headers=auth(add_member())).json["items"] == []


def path(g: Gathering) -> str:
    return f"/api/v1/gatherings/{g.id}"


def test_registrations_need_a_signed_in_active_member_and_a_sane_page(
    client: FlaskClient, add_member: Callable[..., Member], auth: Auth
) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=auth(add_member(status="deactivated"))).status_code == 403
    for query in ({"per_page": 0}, {"per_page": 101}, {"page": 0}, {"page": "x"}):
        answer = client.get(URL, query_string=query, headers=auth(add_member()))
        assert answer.status_code == 422
        assert set(answer.json["errors"]) == set(query)
