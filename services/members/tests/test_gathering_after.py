"""After the event: attendance, the summary with materials and experiments, past gatherings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from members.adapters.models import Gathering, Member, Registration
from uskalla_kit import Runtime

Auth = Callable[[Member], dict[str, str]]
Events = Callable[..., list[dict[str, Any]]]
Register = Callable[..., None]

NOW = datetime.now(UTC).replace(microsecond=0)
EXPERIMENT = uuid.UUID("7b0c7a52-3f6e-4a53-9d0b-3c7b0a2f5e11")
RECORD = {
    "summary": "Kolme kuntaa kertoi kokeiluistaan.\n\nTallenne: https://video.example.fi/foorumi",
    "materials": [
        {"title": "Diat", "url": "https://kuntaliitto.fi/diat.pdf"},
        {"title": "Muistio", "url": "https://kuntaliitto.fi/muistio"},
    ],
    "experiment_ids": [str(EXPERIMENT)],
}


@pytest.fixture
def register(runtime: Runtime) -> Register:
    """register(gathering, member, status="registered"): a registration made before the start
    (the API closes registration at the start, so past ones are written directly)."""

    def add(gathering: Gathering, member: Member, status: str = "registered") -> None:
        with runtime.db.transaction() as session:
            session.add(
                Registration(
                    id=uuid.uuid4(),
                    gathering_id=gathering.id,
                    member_id=member.id,
                    status=status,
                    created_at=gathering.starts_at - timedelta(days=1),
                )
            )

    return add


@pytest.fixture
def started(add_gathering: Callable[..., Gathering]) -> Callable[..., Gathering]:
    """started(**fields) -> a published gathering that began two hours ago (ends in one)."""

    def add(**fields: Any) -> Gathering:
        start = NOW - timedelta(hours=2)
        return add_gathering(
            **({"starts_at": start, "ends_at": start + timedelta(hours=3)} | fields)
        )

    return add


def read(client: FlaskClient, gathering: Gathering, auth: dict[str, str]) -> dict[str, Any]:
    answer = client.get(f"/api/v1/gatherings/{gathering.id}", headers=auth)
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def test_coordinators_mark_who_came_after_the_start(
    client: FlaskClient,
    started: Callable[..., Gathering],
    add_member: Callable[..., Member],
    register: Register,
    coordinator: Member,
    auth: Auth,
) -> None:
    g = started(capacity=3)
    a, b, c, waiting = add_member(), add_member(), add_member(), add_member()
    for member in (a, b, c):
        register(g, member)
    register(g, waiting, "waitlisted")
    url = f"/api/v1/gatherings/{g.id}/attendance"
    before = client.get(url, headers=auth(coordinator)).json
    assert before == {"gathering_id": str(g.id), "registered": 3, "attended": [], "marked": False}
    assert client.get(f"/api/v1/gatherings/{g.id}").json["attended"] is None

    answer = client.put(url, json={"attended": [str(b.id), str(a.id)]}, headers=auth(coordinator))
    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "gathering_id": str(g.id),
        "registered": 3,
        "attended": [str(a.id), str(b.id)],
        "marked": True,
    }
    assert client.get(url, headers=auth(coordinator)).json == answer.json
    # Anyone sees the count; the list of registrants says who came (waitlisted: not marked).
    assert client.get(f"/api/v1/gatherings/{g.id}").json["attended"] == 2
    rows = client.get(f"/api/v1/gatherings/{g.id}/registrations", headers=auth(coordinator)).json
    came = {row["member_id"]: row["attended"] for row in rows["items"]}
    assert came == {str(a.id): True, str(b.id): True, str(c.id): False, str(waiting.id): None}
    csv = client.get(
        f"/api/v1/gatherings/{g.id}/registrations",
        headers={**auth(coordinator), "Accept": "text/csv"},
    ).get_data(as_text=True)
    assert csv.splitlines()[0].endswith(",member_id,attended")

    # Marking again replaces the marks; an empty list says nobody came.
    client.put(url, json={"attended": [str(c.id)]}, headers=auth(coordinator))
    assert client.get(url, headers=auth(coordinator)).json["attended"] == [str(c.id)]
    client.put(url, json={"attended": []}, headers=auth(coordinator))
    assert client.get(url, headers=auth(coordinator)).json["marked"] is True
    listed = client.get("/api/v1/gatherings").json["items"]
    assert [item["attended"] for item in listed if item["id"] == str(g.id)] == [0]


def test_attendance_is_refused_before_the_start_and_for_cancelled_or_draft_gatherings(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    started: Callable[..., Gathering],
    add_member: Callable[..., Member],
    register: Register,
    coordinator: Member,
    auth: Auth,
) -> None:
    member = add_member()
    upcoming = add_gathering()
    cancelled = started(status="cancelled")
    draft = started(status="draft", published_at=None)
    for g in (upcoming, cancelled, draft):
        register(g, member)
        url = f"/api/v1/gatherings/{g.id}"
        refused = client.put(
            f"{url}/attendance", json={"attended": [str(member.id)]}, headers=auth(coordinator)
        )
        assert refused.status_code == 409, refused.json
        assert refused.headers["Content-Type"] == "application/problem+json"
        record = client.put(f"{url}/record", json=RECORD, headers=auth(coordinator))
        assert record.status_code == 409, record.json
        after = read(client, g, auth(coordinator))
        assert after["attended"] is None and after["summary"] == "" and after["materials"] == []
    assert (
        "not started"
        in client.put(
            f"/api/v1/gatherings/{upcoming.id}/record", json=RECORD, headers=auth(coordinator)
        ).json["detail"]
    )
    missing = client.put(
        f"/api/v1/gatherings/{uuid.uuid4()}/attendance",
        json={"attended": []},
        headers=auth(coordinator),
    )
    assert missing.status_code == 404


def test_only_registered_members_can_be_marked_and_a_refusal_changes_nothing(
    client: FlaskClient,
    started: Callable[..., Gathering],
    add_member: Callable[..., Member],
    register: Register,
    coordinator: Member,
    auth: Auth,
) -> None:
    g = started(capacity=1)
    came, waiting, stranger = add_member(), add_member(), add_member()
    register(g, came)
    register(g, waiting, "waitlisted")
    url = f"/api/v1/gatherings/{g.id}/attendance"
    client.put(url, json={"attended": [str(came.id)]}, headers=auth(coordinator))
    for body in (
        {"attended": [str(came.id), str(waiting.id)]},
        {"attended": [str(stranger.id)]},
        {"attended": [str(came.id), str(came.id)]},
        {"attended": ["not-an-id"]},
        {"attended": str(came.id)},
        {"attended": None},
        {},
        {"attended": [], "present": []},
    ):
        answer = client.put(url, json=body, headers=auth(coordinator))
        assert answer.status_code == 422, (body, answer.json)
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json["errors"], answer.json
        assert client.get(url, headers=auth(coordinator)).json["attended"] == [str(came.id)]
    named = client.put(url, json={"attended": [str(stranger.id)]}, headers=auth(coordinator))
    assert named.json["errors"] == {
        "attended": [f"Not registered for the gathering: {stranger.id}."]
    }


def test_only_coordinators_write_or_read_attendance_and_the_record(
    client: FlaskClient,
    started: Callable[..., Gathering],
    add_member: Callable[..., Member],
    register: Register,
    auth: Auth,
) -> None:
    g = started()
    member = add_member()
    register(g, member)
    url = f"/api/v1/gatherings/{g.id}"
    calls = [
        ("PUT", f"{url}/attendance", {"attended": [str(member.id)]}),
        ("GET", f"{url}/attendance", None),
        ("PUT", f"{url}/record", RECORD),
    ]
    for method, path, body in calls:
        assert client.open(path, method=method, json=body).status_code == 401
        assert client.open(path, method=method, json=body, headers=auth(member)).status_code == 403
    after = client.get(url).json
    assert after["attended"] is None and after["summary"] == "" and after["experiment_ids"] == []


def test_the_record_summary_materials_and_experiments(
    client: FlaskClient, started: Callable[..., Gathering], coordinator: Member, auth: Auth
) -> None:
    g = started()
    answer = client.put(f"/api/v1/gatherings/{g.id}/record", json=RECORD, headers=auth(coordinator))
    assert answer.status_code == 200, answer.json
    public = client.get(f"/api/v1/gatherings/{g.id}").json
    assert public["summary"] == RECORD["summary"]
    assert public["materials"] == RECORD["materials"]
    assert public["experiment_ids"] == [str(EXPERIMENT)]
    # Rendered as comments are: paragraphs, escaped text, links with the same rel.
    assert public["summary_html"] == (
        "<p>Kolme kuntaa kertoi kokeiluistaan.</p>\n<p>Tallenne: "
        '<a href="https://video.example.fi/foorumi" rel="nofollow ugc noopener">'
        "https://video.example.fi/foorumi</a></p>"
    )
    client.put(
        f"/api/v1/gatherings/{g.id}/record",
        json={"summary": "<b>Kiitos</b> & näkemiin", "materials": [], "experiment_ids": []},
        headers=auth(coordinator),
    )
    replaced = client.get(f"/api/v1/gatherings/{g.id}").json
    assert replaced["summary_html"] == "<p>&lt;b&gt;Kiitos&lt;/b&gt; &amp; näkemiin</p>"
    assert replaced["materials"] == [] and replaced["experiment_ids"] == []


MATERIAL = {"title": "Diat", "url": "https://kuntaliitto.fi/diat.pdf"}
BAD_RECORDS = [
    ("summary", {"summary": "x" * 2001}),
    ("summary", {"summary": "Kiitos\x00"}),
    ("summary", {"summary": None}),
    ("materials", {"materials": [MATERIAL] * 21}),
    ("materials", {"materials": [{"title": " ", "url": MATERIAL["url"]}]}),
    ("materials", {"materials": [{"title": "x" * 201, "url": MATERIAL["url"]}]}),
    ("materials", {"materials": [{"title": "Kaksi\nriviä", "url": MATERIAL["url"]}]}),
    ("materials", {"materials": [{"title": "Diat", "url": "http://kuntaliitto.fi/diat"}]}),
    ("materials", {"materials": [{"title": "Diat", "url": "javascript:alert(1)"}]}),
    ("materials", {"materials": [{"title": "Diat", "url": "https://k.fi/" + "x" * 500}]}),
    ("materials", {"materials": [{"title": "Diat"}]}),
    ("materials", {"materials": [{**MATERIAL, "kind": "pdf"}]}),
    ("materials", {"materials": "https://kuntaliitto.fi"}),
    ("experiment_ids", {"experiment_ids": ["kokeilu"]}),
    ("experiment_ids", {"experiment_ids": [str(EXPERIMENT), str(EXPERIMENT)]}),
    ("experiment_ids", {"experiment_ids": [str(uuid.uuid4()) for _ in range(21)]}),
]


@pytest.mark.parametrize(("field", "change"), BAD_RECORDS)
def test_a_bad_record_is_refused_per_field_and_changes_nothing(
    client: FlaskClient,
    started: Callable[..., Gathering],
    coordinator: Member,
    auth: Auth,
    field: str,
    change: dict[str, Any],
) -> None:
    g = started()
    url = f"/api/v1/gatherings/{g.id}/record"
    client.put(url, json=RECORD, headers=auth(coordinator))
    answer = client.put(url, json={**RECORD, **change}, headers=auth(coordinator))
    assert answer.status_code == 422, answer.json
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert [key.split(".")[0] for key in answer.json["errors"]] == [field], answer.json
    after = client.get(f"/api/v1/gatherings/{g.id}").json
    assert (after["summary"], after["materials"], after["experiment_ids"]) == (
        RECORD["summary"],
        RECORD["materials"],
        RECORD["experiment_ids"],
    )


@pytest.mark.parametrize("missing", ["summary", "materials", "experiment_ids"])
def test_a_record_names_every_field(
    client: FlaskClient,
    started: Callable[..., Gathering],
    coordinator: Member,
    auth: Auth,
    missing: str,
) -> None:
    g = started()
    body = {k: v for k, v in RECORD.items() if k != missing}
    answer = client.put(f"/api/v1/gatherings/{g.id}/record", json=body, headers=auth(coordinator))
    assert answer.status_code == 422 and list(answer.json["errors"]) == [missing]
    assert client.get(f"/api/v1/gatherings/{g.id}").json["summary"] == ""


def test_past_gatherings_latest_first_with_their_summary_and_cancelled_ones_marked(
    client: FlaskClient,
    add_gathering: Callable[..., Gathering],
    coordinator: Member,
    auth: Auth,
) -> None:
    def ago(days: int, **fields: Any) -> Gathering:
        start = NOW - timedelta(days=days)
        return add_gathering(starts_at=start, ends_at=start + timedelta(hours=2), **fields)

    older = ago(30, title="Vanha foorumi")
    newer = ago(3, title="Peruttu paja", status="cancelled")
    ago(1, status="draft", published_at=None)
    upcoming = add_gathering(title="Tuleva")
    client.put(f"/api/v1/gatherings/{older.id}/record", json=RECORD, headers=auth(coordinator))

    past = client.get("/api/v1/gatherings?when=past")
    assert past.status_code == 200
    assert [i["id"] for i in past.json["items"]] == [str(newer.id), str(older.id)]
    assert past.json["total"] == 2
    first, second = past.json["items"]
    assert first["status"] == "cancelled" and first["ended"] is True
    assert second["summary"] == RECORD["summary"] and second["materials"] == RECORD["materials"]
    coming = client.get("/api/v1/gatherings?when=upcoming").json["items"]
    assert [i["id"] for i in coming] == [str(upcoming.id)] and coming[0]["ended"] is False
    assert [i["id"] for i in client.get("/api/v1/gatherings").json["items"]] == [str(upcoming.id)]
    every = client.get("/api/v1/gatherings?when=all").json["items"]
    assert [i["id"] for i in every] == [str(upcoming.id), str(newer.id), str(older.id)]
    one = client.get("/api/v1/gatherings?when=past&per_page=1&page=2").json
    assert [i["id"] for i in one["items"]] == [str(older.id)] and one["total"] == 2
    bad = client.get("/api/v1/gatherings?when=yesterday")
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["when"]


def test_the_members_export_says_whether_they_came(
    client: FlaskClient,
    started: Callable[..., Gathering],
    add_member: Callable[..., Member],
    register: Register,
    coordinator: Member,
    auth: Auth,
) -> None:
    g = started()
    member = add_member()
    register(g, member)
    [before] = client.get("/api/v1/members/me/export", headers=auth(member)).json["registrations"]
    assert before["attended"] is None
    url = f"/api/v1/gatherings/{g.id}/attendance"
    client.put(url, json={"attended": [str(member.id)]}, headers=auth(coordinator))
    [after] = client.get("/api/v1/members/me/export", headers=auth(member)).json["registrations"]
    assert after["gathering_id"] == str(g.id) and after["attended"] is True
