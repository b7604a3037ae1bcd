"""Members in this service: the author projection, the erased-author policy and the export."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import psycopg
from experiments.domain.access import Viewer
from flask.testing import FlaskClient
from uskalla_devstack.pytest_plugin import lock_waiters, wait_until
from uskalla_events import EventTables
from uskalla_kit import Runtime

INTERNAL = {"X-Internal-Token": "test-internal-token"}


def dump(runtime: Runtime) -> str:
    """Every row of every table in the service's database, as text."""
    url = runtime.db.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return "\n".join(
            json.dumps(
                [list(map(str, row)) for row in conn.execute(f'SELECT * FROM "{t}"')],
                ensure_ascii=False,
            )
            for t in tables
        )


def test_name_changes_reach_authors_but_not_after_erasure(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    experiment = api.published(owner)
    api.deliver(
        "members.member.updated.v1",
        {
            "member_id": owner.id,
            "email": "uusi@kunta.test",
            "name": "Olli Uusinimi",
            "language": "fi",
        },
    )
    url = f"/api/v1/experiments/{experiment['id']}"
    assert client.get(url).json["owners"][0]["name"] == "Olli Uusinimi"
    comment = client.post(
        url + "/comments", json={"body": "Moi"}, headers=people["member"].headers
    ).json
    api.deliver("members.member.erased.v1", {"member_id": people["member"].id})
    # A late update must not bring the erased member back.
    api.deliver(
        "members.member.updated.v1",
        {
            "member_id": people["member"].id,
            "email": "maija@kunta.test",
            "name": "Maija Muu",
            "language": "fi",
        },
    )
    assert client.get(url + "/comments").json["items"] == []
    assert (
        client.patch(
            f"/api/v1/comments/{comment['id']}",
            json={"body": "x"},
            headers=people["member"].headers,
        ).status_code
        == 401  # the token outlives the member: it names no one any more
    )


def test_an_erased_members_unexpired_token_writes_nothing(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any]
) -> None:
    experiment = api.published(people["owner"])
    gone = people["member"]
    api.deliver("members.member.erased.v1", {"member_id": gone.id})
    comment = client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": "Olen Maija, tavoitat minut maija@kunta.test"},
        headers=gone.headers,
    )
    assert comment.status_code == 401
    assert comment.mimetype == "application/problem+json"
    assert 'error="invalid_token"' in comment.headers["WWW-Authenticate"]
    created = client.post(
        "/api/v1/experiments",
        json={"title": "Maijan kokeilu", "summary": "Yhä täällä", "kind": "experiment"},
        headers=gone.headers,
    )
    assert created.status_code == 401
    assert "Maija" not in dump(runtime) and "maija@kunta.test" not in dump(runtime)
    # Others carry on as before.
    other = client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": "Hyvä kokeilu"},
        headers=people["owner"].headers,
    )
    assert other.status_code == 201


def test_erasure_removes_every_trace_of_name_and_address(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any], make_member: Any
) -> None:
    member = make_member("Eila Erasmus")
    email = f"{member.id[:8]}@kunta.test"
    colleague = people["owner"]
    own = api.published(member, description=f"Yhteyshenkilö Eila Erasmus, {email}.")
    client.patch(
        f"/api/v1/experiments/{own['id']}",
        json={"owners": {"add": [colleague.id]}},
        headers=member.headers,
    )
    others = api.published(colleague, summary="Kiitos EILA ERASMUS avusta!")
    client.post(
        f"/api/v1/experiments/{others['id']}/comments",
        json={"body": f"Kysy minulta: {email}"},
        headers=member.headers,
    )
    reply = client.post(
        f"/api/v1/experiments/{others['id']}/comments",
        json={"body": "Kiitos Eila Erasmus!"},
        headers=colleague.headers,
    ).json
    client.post(
        f"/api/v1/comments/{reply['id']}/reports", json={"reason": "other"}, headers=member.headers
    )
    # an undeliverable event that carried the name sits in the dead letters
    tables: EventTables = runtime.events.tables
    with runtime.db.transaction() as session:
        session.execute(
            tables.dead_letters.insert().values(
                event_id=member.id,
                type="members.member.updated.v1",
                envelope={"data": {"name": "Eila Erasmus", "email": email}},
                error="x",
                attempts=1,
            )
        )
    assert "Eila Erasmus" in dump(runtime) and email in dump(runtime)

    api.deliver("members.member.erased.v1", {"member_id": member.id})

    everything = dump(runtime)
    assert "eila erasmus" not in everything.lower() and email not in everything
    detail = client.get(f"/api/v1/experiments/{own['id']}").json
    assert detail["owners"] == [{"id": colleague.id, "name": "Olli Omistaja"}]
    assert detail["description"] == "Yhteyshenkilö [poistettu], [poistettu]."
    assert (
        client.get(f"/api/v1/experiments/{others['id']}").json["summary"]
        == "Kiitos [poistettu] avusta!"
    )
    comments = client.get(f"/api/v1/experiments/{others['id']}/comments").json["items"]
    assert [c["id"] for c in comments] == [reply["id"]]  # the erased member's own comment is gone
    assert (
        comments[0]["body"] == "Kiitos [poistettu]!" and "[poistettu]" in comments[0]["body_html"]
    )
    export = client.get(f"/internal/v1/members/{member.id}/export", headers=INTERNAL).json
    assert export["profile"] == {
        "name": "Poistettu jäsen",
        "organisation": "",
        "email": None,
        "erased": True,
    }
    assert export["experiments_owned"] == [] and export["comments"] == []


def test_internal_export_of_a_members_data(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    experiment = api.published(owner)
    draft = api.create(owner, title="Oma luonnos")
    comment = client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": "Oma kommentti"},
        headers=owner.headers,
    ).json
    url = f"/internal/v1/members/{owner.id}/export"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-Internal-Token": "wrong"}).status_code == 401
    assert client.get(url, headers=owner.headers).status_code == 401
    export = client.get(url, headers=INTERNAL).json
    assert export["member_id"] == owner.id
    assert export["profile"] == {
        "name": "Olli Omistaja",
        "organisation": "Kunta",
        "email": "owner@kunta.test",
        "erased": False,
    }
    assert [e["id"] for e in export["experiments_owned"]] == [experiment["id"], draft["id"]]
    assert export["experiments_owned"][1]["published"] is False
    assert [(c["id"], c["body"]) for c in export["comments"]] == [(comment["id"], "Oma kommentti")]
    unknown = client.get(
        "/internal/v1/members/7d2f5b8c-5f7e-4d8a-9c55-1a2b3c4d5e6f/export", headers=INTERNAL
    )
    assert unknown.status_code == 200 and unknown.json["profile"] is None


def test_every_public_route_is_documented(client: FlaskClient) -> None:
    app = client.application
    undocumented = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/", "/internal/"))
        and not hasattr(app.view_functions[rule.endpoint], "__openapi__")
    ]
    assert undocumented == []
    paths = client.get("/openapi.json").json["paths"]
    for path in (
        "/api/v1/experiments",
        "/api/v1/experiments/{experiment_id}",
        "/api/v1/experiments/{experiment_id}/publish",
        "/api/v1/experiments/{experiment_id}/stage",
        "/api/v1/experiments/{experiment_id}/evaluation",
        "/api/v1/experiments/{experiment_id}/comments",
        "/api/v1/comments/{comment_id}",
        "/api/v1/comments/{comment_id}/reports",
        "/api/v1/comments/{comment_id}/hide",
        "/api/v1/comments/{comment_id}/restore",
        "/api/v1/moderation/comments",
        "/api/v1/themes",
        "/api/v1/experiments/stats",
        "/api/v1/experiments/feed.atom",
        "/api/v1/experiments.csv",
    ):
        assert path in paths, path


def test_a_comment_being_posted_as_the_erasure_arrives_goes_with_the_member(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any], make_member: Any
) -> None:
    """The erased check of `member()` ran before the write; the erasure commits meanwhile."""
    from experiments.entrypoints.caller import acting
    from experiments.service_layer import comments

    experiment = api.published(people["owner"])
    member = make_member("Kaija Kirjoittaja")
    caller = Viewer(member.id)
    erasure = threading.Thread(
        target=api.deliver, args=("members.member.erased.v1", {"member_id": member.id})
    )
    with runtime.create_app().test_request_context(), acting(caller) as session:
        comments.post(
            session,
            runtime.events.outbox,
            caller,
            uuid.UUID(experiment["id"]),
            "Kaija täällä, kommentoin juuri kun lähden",
        )
        erasure.start()  # it waits for this write: deleting comments now would miss this one
        wait_until(
            lambda: lock_waiters(runtime.db.url) == 1,
            timeout=10,
            message="the erasure waiting for the write",
        )
    erasure.join(10)
    assert not erasure.is_alive()
    assert client.get(f"/api/v1/experiments/{experiment['id']}/comments").json["items"] == []
    assert "Kaija" not in dump(runtime)


def test_a_write_waiting_for_an_erasure_in_progress_answers_401(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any], make_member: Any
) -> None:
    from experiments.service_layer import members

    experiment = api.published(people["owner"])
    member = make_member("Veera Viimeinen")
    answers: list[Any] = []
    posting = threading.Thread(
        target=lambda: answers.append(
            client.post(
                f"/api/v1/experiments/{experiment['id']}/comments",
                json={"body": "Veera vielä kerran"},
                headers=member.headers,
            )
        )
    )
    with runtime.db.transaction() as session:
        members.erase(session, runtime.events.tables, uuid.UUID(member.id))
        posting.start()  # passes member()'s check: the erasure has not committed yet
        wait_until(
            lambda: lock_waiters(runtime.db.url) == 1,
            timeout=10,
            message="the write waiting for the erasure",
        )
    posting.join(10)
    assert [a.status_code for a in answers] == [401]
    assert "Veera" not in dump(runtime)
