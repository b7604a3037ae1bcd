"""Registering for gatherings: capacity, waitlist in order, deadline, cancelling, registrant lists."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from members.adapters.models import Gathering, Member

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]


def register(client: FlaskClient, g: Gathering, headers: dict[str, str]) -> Any:
    return client.post(f"/api/v1/gatherings/{g.id}/registrations", headers=headers)


def cancel(client: FlaskClient, g: Gathering, headers: dict[str, str]) -> Any:
    return client.delete(f"/api/v1/gatherings/{g.id}/registrations/me", headers=headers)


def changes(events: Events) -> list[tuple[str, str]]:
    return [
        (e["data"]["member_id"], e["data"]["status"])
        for e in events("members.registration.changed.v1")
    ]


def test_places_then_waitlist_then_conflict(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
    events: Events,
) -> None:
    g = add_gathering(capacity=2)
    a, b, c = add_member(), add_member(), add_member()
    answers = [register(client, g, auth(m)) for m in (a, b, c)]
    assert [x.status_code for x in answers] == [201, 201, 201]
    assert [x.json["status"] for x in answers] == ["registered", "registered", "waitlisted"]
    again = register(client, g, auth(a))
    assert again.status_code == 409 and again.content_type == "application/problem+json"
    assert changes(events) == [
        (str(a.id), "registered"),
        (str(b.id), "registered"),
        (str(c.id), "waitlisted"),
    ]
    [event] = events("members.registration.changed.v1")[:1]
    assert event["data"]["title"] == g.title and event["data"]["gathering_id"] == str(g.id)


def test_cancel_promotes_the_waitlist_in_order(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
    events: Events,
) -> None:
    g = add_gathering(capacity=1)
    a, b, c = add_member(), add_member(), add_member()
    for m in (a, b, c):
        register(client, g, auth(m))
    answer = cancel(client, g, auth(a))
    assert answer.status_code == 200 and answer.json == {"status": "cancelled"}
    assert changes(events)[-2:] == [(str(a.id), "cancelled"), (str(b.id), "promoted")]
    assert client.get(f"/api/v1/gatherings/{g.id}", headers=auth(b)).json["my_registration"] == (
        "registered"
    )
    # A waitlisted person leaving promotes nobody.
    cancel(client, g, auth(c))
    assert changes(events)[-1] == (str(c.id), "cancelled")
    assert cancel(client, g, auth(c)).status_code == 404
    # Registering again after cancelling is allowed (and goes to the end of the line).
    assert register(client, g, auth(a)).json["status"] == "waitlisted"


def test_registration_closes_at_the_deadline_or_the_start(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
    events: Events,
) -> None:
    now = datetime.now(UTC)
    closed = add_gathering(registration_deadline=now - timedelta(minutes=1))
    started = add_gathering(starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))
    member = add_member()
    for g in (closed, started):
        answer = register(client, g, auth(member))
        assert answer.status_code == 422
        assert "registration_deadline" in answer.json["errors"]
    assert events() == []


def test_who_may_register(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
    coordinator: Member,
) -> None:
    g = add_gathering()
    draft = add_gathering(status="draft", published_at=None)
    assert register(client, g, {}).status_code == 401
    assert cancel(client, g, {}).status_code == 401
    assert register(client, g, auth(add_member(status="deactivated"))).status_code == 403
    assert register(client, draft, auth(add_member())).status_code == 404
    assert register(client, draft, auth(coordinator)).status_code == 404
    missing = client.post(
        f"/api/v1/gatherings/{uuid.uuid4()}/registrations", headers=auth(add_member())
    )
    assert missing.status_code == 404
    assert register(client, g, auth(coordinator)).status_code == 201  # coordinators are members


def test_bigger_capacity_promotes_smaller_than_registered_is_refused(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
    coordinator: Member,
    events: Events,
) -> None:
    g = add_gathering(capacity=1)
    a, b, c = add_member(), add_member(), add_member()
    for m in (a, b, c):
        register(client, g, auth(m))
    url = f"/api/v1/gatherings/{g.id}"
    smaller = client.patch(url, json={"capacity": 1}, headers=auth(coordinator))
    assert smaller.status_code == 200
    bigger = client.patch(url, json={"capacity": 2}, headers=auth(coordinator))
    assert (bigger.json["registered"], bigger.json["waitlisted"]) == (2, 1)
    assert changes(events)[-1] == (str(b.id), "promoted")
    too_small = client.patch(url, json={"capacity": 1}, headers=auth(coordinator))
    assert too_small.status_code == 422 and "capacity" in too_small.json["errors"]
    unlimited = client.patch(url, json={"capacity": None}, headers=auth(coordinator))
    assert (unlimited.json["registered"], unlimited.json["waitlisted"]) == (3, 0)


def test_registrant_list_and_csv(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    add_member: Callable[..., Member],
    auth: Auth,
    coordinator: Member,
) -> None:
    g = add_gathering(capacity=1)
    a = add_member(name="Aino")
    b = add_member(name="Bertta")
    c = add_member(name="Cecilia")
    for m in (a, b, c):
        register(client, g, auth(m))
    url = f"/api/v1/gatherings/{g.id}/registrations"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=auth(a)).status_code == 403
    page = client.get(url, headers=auth(coordinator)).json
    assert page["total"] == 3
    assert [(r["name"], r["status"], r["position"]) for r in page["items"]] == [
        ("Aino", "registered", 1),
        ("Bertta", "waitlisted", 1),
        ("Cecilia", "waitlisted", 2),
    ]
    second = client.get(f"{url}?per_page=2&page=2", headers=auth(coordinator)).json
    assert [r["name"] for r in second["items"]] == ["Cecilia"]
    assert client.get(f"{url}?per_page=500", headers=auth(coordinator)).status_code == 422
    answer = client.get(url, headers={**auth(coordinator), "Accept": "text/csv"})
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["name"], r["status"], r["email"]) for r in rows] == [
        ("Aino", "registered", a.email),
        ("Bertta", "waitlisted", b.email),
        ("Cecilia", "waitlisted", c.email),
    ]
    missing = client.get(
        f"/api/v1/gatherings/{uuid.uuid4()}/registrations", headers=auth(coordinator)
    )
    assert missing.status_code == 404
