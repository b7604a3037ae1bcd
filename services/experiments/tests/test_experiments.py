"""Experiments over HTTP with each role: create, read, drafts, edit, owners, publish."""

from __future__ import annotations

from typing import Any

from experiments.entrypoints.schemas import ExperimentSchema
from flask.testing import FlaskClient

Person = Any


def test_create_needs_a_member_and_makes_the_creator_owner(
    api: Any, client: FlaskClient, people: dict[str, Person]
) -> None:
    assert client.post("/api/v1/experiments", json=api.draft).status_code == 401
    answer = client.post("/api/v1/experiments", json=api.draft, headers=people["owner"].headers)
    assert answer.status_code == 201
    body = answer.json
    api.conforms(ExperimentSchema, body)
    assert answer.headers["Location"] == f"/api/v1/experiments/{body['id']}"
    assert body["owners"] == [{"id": people["owner"].id, "name": "Olli Omistaja"}]
    assert body["stage"] == "idea" and body["published"] is False
    assert body["published_at"] is None and body["evaluation"] is None
    assert body["comment_count"] == 0 and body["language"] == "fi"
    for field in api.draft:
        assert body[field] == api.draft[field], field


def test_bad_fields_get_per_field_errors_and_store_nothing(
    api: Any, client: FlaskClient, people: dict[str, Person]
) -> None:
    bad = {
        **api.draft,
        "title": "   ",
        "kind": "trial",
        "scale": "huge",
        "municipality_codes": ["999"],
        "links": ["javascript:alert(1)"],
        "starts_on": "2026-05-01",
        "ends_on": "2026-04-01",
        "language": "de",
        "summary": "x" * 1001,
    }
    answer = client.post("/api/v1/experiments", json=bad, headers=people["owner"].headers)
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert set(answer.json["errors"]) >= {
        "title",
        "kind",
        "scale",
        "municipality_codes.0",
        "links.0",
        "language",
        "summary",
    }
    unknown_theme = client.post(
        "/api/v1/experiments",
        json={**api.draft, "themes": ["no-such-theme"]},
        headers=people["owner"].headers,
    )
    assert unknown_theme.status_code == 422
    assert unknown_theme.json["errors"] == {"themes": ["Unknown theme: no-such-theme."]}
    dates = client.post(
        "/api/v1/experiments",
        json={**api.draft, "starts_on": "2026-05-01", "ends_on": "2026-04-01"},
        headers=people["owner"].headers,
    )
    assert dates.status_code == 422 and "ends_on" in dates.json["errors"]
    missing = client.post("/api/v1/experiments", json={}, headers=people["owner"].headers)
    assert set(missing.json["errors"]) == {"title", "summary", "kind", "scale"}
    page = client.get("/api/v1/experiments", headers=people["coordinator"].headers).json
    assert page["total"] == 0


def test_drafts_are_seen_only_by_owners_and_coordinators(
    api: Any, client: FlaskClient, people: dict[str, Person]
) -> None:
    draft = api.create(people["owner"])
    url = f"/api/v1/experiments/{draft['id']}"
    seen = {who: client.get(url, headers=p.headers).status_code for who, p in people.items()}
    # 404, not 403: a draft's existence does not leak.
    assert seen == {"anonymous": 404, "owner": 200, "member": 404, "coordinator": 200}
    for person in people.values():
        listed = client.get("/api/v1/experiments", headers=person.headers).json
        assert listed["items"] == [] and listed["total"] == 0
    assert (
        client.get("/api/v1/experiments/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12).status_code
        == 404
    )
    assert client.get("/api/v1/experiments/not-a-uuid").status_code == 404


def test_published_experiments_are_public(
    api: Any, client: FlaskClient, people: dict[str, Person]
) -> None:
    experiment = api.published(people["owner"])
    for person in people.values():
        answer = client.get(f"/api/v1/experiments/{experiment['id']}", headers=person.headers)
        assert answer.status_code == 200
        api.conforms(ExperimentSchema, answer.json)
    assert answer.json["published"] is True and answer.json["published_at"]


def test_edit_by_role(api: Any, client: FlaskClient, people: dict[str, Person]) -> None:
    draft = api.create(people["owner"])
    url = f"/api/v1/experiments/{draft['id']}"
    change = {"title": "Uusi otsikko", "scale": "large", "looking_for": None}
    assert client.patch(url, json=change).status_code == 401
    assert client.patch(url, json=change, headers=people["member"].headers).status_code == 404
    answer = client.patch(url, json=change, headers=people["owner"].headers)
    assert answer.status_code == 200
    api.conforms(ExperimentSchema, answer.json)
    assert answer.json["title"] == "Uusi otsikko" and answer.json["scale"] == "large"
    assert answer.json["looking_for"] is None and answer.json["summary"] == api.draft["summary"]
    by_coordinator = client.patch(
        url, json={"goals": "Uudet tavoitteet"}, headers=people["coordinator"].headers
    )
    assert by_coordinator.status_code == 200 and by_coordinator.json["goals"] == "Uudet tavoitteet"
    client.post(url + "/publish", headers=people["owner"].headers)
    # Once it is public, another member may see it but not change it.
    assert client.patch(url, json=change, headers=people["member"].headers).status_code == 403


def test_edit_validates_and_keeps_dates_in_order(
    api: Any, client: FlaskClient, people: dict[str, Person]
) -> None:
    draft = api.create(people["owner"])
    url = f"/api/v1/experiments/{draft['id']}"
    owner = people["owner"].headers
    for change, field in (
        ({"ends_on": "2025-01-01"}, "ends_on"),
        ({"title": None}, "title"),
        ({"themes": ["nope"]}, "themes"),
        ({"municipality_codes": ["12"]}, "municipality_codes.0"),
        ({"kind": "pilot", "scale": "medium"}, "scale"),
    ):
        answer = client.patch(url, json=change, headers=owner)
        assert answer.status_code == 422, change
        assert field in answer.json["errors"], answer.json
    assert client.get(url, headers=owner).json["kind"] == "experiment"
    assert (
        client.patch(url, data="[", content_type="application/json", headers=owner).status_code
        == 400
    )
    assert client.patch(url, json=[1], headers=owner).status_code == 422


def test_owners_are_added_and_removed_but_one_stays(
    api: Any, client: FlaskClient, people: dict[str, Person], make_member: Any
) -> None:
    draft = api.create(people["owner"])
    url = f"/api/v1/experiments/{draft['id']}"
    colleague = make_member("Kalle Kollega")
    added = client.patch(
        url, json={"owners": {"add": [colleague.id]}}, headers=people["owner"].headers
    )
    assert added.status_code == 200
    assert [o["id"] for o in added.json["owners"]] == [people["owner"].id, colleague.id]
    # The new owner sees the draft and may manage it.
    assert client.get(url, headers=colleague.headers).status_code == 200
    removed = client.patch(
        url, json={"owners": {"remove": [people["owner"].id]}}, headers=colleague.headers
    )
    assert [o["id"] for o in removed.json["owners"]] == [colleague.id]
    assert client.get(url, headers=people["owner"].headers).status_code == 404
    last = client.patch(url, json={"owners": {"remove": [colleague.id]}}, headers=colleague.headers)
    assert last.status_code == 409
    stranger = "5d4d1f7e-2b1e-4c55-9d8a-4b8f0f1c2a3b"
    unknown = client.patch(url, json={"owners": {"add": [stranger]}}, headers=colleague.headers)
    assert unknown.status_code == 422 and "owners.add" in unknown.json["errors"]


def test_publish_by_role_emits_one_event(
    api: Any, client: FlaskClient, people: dict[str, Person]
) -> None:
    draft = api.create(people["owner"])
    url = f"/api/v1/experiments/{draft['id']}/publish"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=people["member"].headers).status_code == 404
    first = client.post(url, headers=people["owner"].headers)
    again = client.post(url, headers=people["owner"].headers)
    assert first.status_code == again.status_code == 200
    assert first.json["published_at"] == again.json["published_at"]
    # Published now, another member sees it but may not (re)publish it.
    assert client.post(url, headers=people["member"].headers).status_code == 403
    events = [e for e in api.outbox() if e["type"] == "experiments.experiment.published.v1"]
    assert len(events) == 1
    assert events[0]["data"] == {
        "experiment_id": draft["id"],
        "title": api.draft["title"],
        "summary": api.draft["summary"],
        "themes": api.draft["themes"],
        "municipality_codes": api.draft["municipality_codes"],
        "published_at": first.json["published_at"],
    }
    other = api.create(people["member"])
    by_coordinator = client.post(
        f"/api/v1/experiments/{other['id']}/publish", headers=people["coordinator"].headers
    )
    assert by_coordinator.status_code == 200 and by_coordinator.json["published"] is True


def test_themes_have_three_languages(api: Any, client: FlaskClient) -> None:
    items = client.get("/api/v1/themes").json["items"]
    slugs = [t["slug"] for t in items]
    assert slugs[:4] == [
        "digital-municipality",
        "health-and-social-reform",
        "innovative-procurement",
        "parallel-organisations",
    ]
    assert len(slugs) >= 8
    assert items[0] == {
        "slug": "digital-municipality",
        "name_fi": "Digikuntakokeilut",
        "name_sv": "Digitala kommunförsök",
        "name_en": "Digital municipality experiments",
    }
