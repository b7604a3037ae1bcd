"""Members in this service: the author projection, the erased-author policy and the export."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from typing import Any

import psycopg
from experiments.domain.access import Viewer
from experiments.entrypoints.export_schemas import MemberExportSchema
from experiments.service_layer import services_of
from flask.testing import FlaskClient
from sqlalchemy import select
from uskalla_devstack.pytest_plugin import lock_waiters, wait_until
from uskalla_events import EventTables, load_payload, new_envelope
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


def dead_letter(runtime: Runtime, event_type: str, data: dict[str, Any]) -> None:
    """An undeliverable event kept in the dead letters, as the consumer leaves one."""
    tables: EventTables = runtime.events.tables
    with runtime.db.transaction() as session:
        session.execute(
            tables.dead_letters.insert().values(
                event_id=uuid.uuid4(),
                type=event_type,
                envelope={"type": event_type, "data": data},
                error="x",
                attempts=1,
            )
        )


def envelopes(runtime: Runtime) -> list[dict[str, Any]]:
    tables: EventTables = runtime.events.tables
    with runtime.db.transaction() as session:
        return [
            row.envelope
            for table in (tables.outbox, tables.dead_letters)
            for row in session.execute(select(table))
        ]


def test_erasure_never_edits_what_others_wrote(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any], make_member: Any
) -> None:
    """A member named "Kunta" (a common word) or "Ari" (inside words) takes only their own."""
    colleague, other = people["owner"], people["member"]
    kunta, ari = make_member("Kunta"), make_member("Ari")
    own = api.published(kunta, summary="Kunta kokeili omaa kokeilua.")
    client.patch(
        f"/api/v1/experiments/{own['id']}",
        json={"owners": {"add": [colleague.id]}},
        headers=kunta.headers,
    )
    alone = api.published(kunta, title="Kunnan yksin aloittama")
    others = api.published(
        colleague, summary="Kunta kokeili kokeilua.", description="Arin ja Karin ajatus."
    )
    comments = f"/api/v1/experiments/{others['id']}/comments"
    mine = client.post(comments, json={"body": "Kunta kiittää."}, headers=kunta.headers).json
    theirs = client.post(
        comments, json={"body": "Kunta ja Ari: Arinan mielestä hyvä."}, headers=colleague.headers
    ).json
    for reporter in (other, colleague):  # reports on the erased member's comment
        client.post(
            f"/api/v1/comments/{mine['id']}/reports",
            json={"reason": "spam"},
            headers=reporter.headers,
        )
    client.post(  # the erased member's report on another's comment
        f"/api/v1/comments/{theirs['id']}/reports", json={"reason": "other"}, headers=kunta.headers
    )
    client.post(
        f"/api/v1/experiments/{own['id']}/comments", json={"body": "Ari."}, headers=ari.headers
    )
    dead_letter(
        runtime,
        "members.member.updated.v1",
        {"member_id": kunta.id, "name": "Kunta", "email": "kunta@kunta.test", "language": "fi"},
    )
    dead_letter(  # another member's, which only mentions the word
        runtime,
        "members.member.updated.v1",
        {"member_id": other.id, "name": "Kunta Ari", "email": "k@kunta.test", "language": "fi"},
    )
    before = {e["id"]: client.get(f"/api/v1/experiments/{e['id']}").json for e in (own, others)}

    api.deliver("members.member.erased.v1", {"member_id": kunta.id})
    api.deliver("members.member.erased.v1", {"member_id": ari.id})

    for experiment in (own, others):  # every text as it was written, the erased name included
        after = client.get(f"/api/v1/experiments/{experiment['id']}").json
        for field in ("title", "summary", "description", "organisation", "problem", "goals"):
            assert after[field] == before[experiment["id"]][field], field
    assert client.get(f"/api/v1/experiments/{own['id']}").json["owners"] == [
        {"id": colleague.id, "name": "Olli Omistaja"}
    ]
    assert client.get(f"/api/v1/experiments/{alone['id']}").json["owners"] == []
    left = client.get(comments).json["items"]
    assert [(c["id"], c["body"]) for c in left] == [(theirs["id"], theirs["body"])]
    assert left[0]["body_html"] == theirs["body_html"]
    assert client.get(f"/api/v1/experiments/{own['id']}/comments").json["items"] == []
    reports = client.get(
        "/api/v1/moderation/comments",
        query_string={"status": "reported"},
        headers=people["coordinator"].headers,
    ).json["items"]
    assert reports == []  # those on their comment went with it, theirs on others' too
    kept = envelopes(runtime)
    assert {"member_id": kunta.id, "language": "fi"} in [e["data"] for e in kept]
    assert {
        "member_id": other.id,
        "name": "Kunta Ari",
        "email": "k@kunta.test",
        "language": "fi",
    } in [e["data"] for e in kept]
    posted = [e["data"] for e in kept if e["type"] == "experiments.comment.posted.v1"]
    assert len(posted) == 3 and all(p["experiment_title"] for p in posted)
    export = client.get(f"/internal/v1/members/{kunta.id}/export", headers=INTERNAL).json
    assert export["profile"] == {
        "name": "Poistettu jäsen",
        "organisation": "",
        "role": "member",
        "active": False,
        "erased": True,
    }
    assert export["experiments_owned"] == [] and export["comments"] == []
    assert export["comment_reports"] == []


def test_after_erasure_no_row_holds_the_members_name_or_address(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any], make_member: Any
) -> None:
    member = make_member("Eila Erasmus")
    email = f"{member.id[:8]}@kunta.test"
    experiment = api.published(people["owner"])
    client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": f"Eila Erasmus täällä, {email}"},
        headers=member.headers,
    )
    dead_letter(
        runtime,
        "members.member.updated.v1",
        {"member_id": member.id, "name": "Eila Erasmus", "email": email, "language": "fi"},
    )
    assert "Eila Erasmus" in dump(runtime) and email in dump(runtime)

    api.deliver("members.member.erased.v1", {"member_id": member.id})

    everything = dump(runtime)
    assert "Eila Erasmus" not in everything and email not in everything


def test_internal_export_of_a_members_data(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    experiment = api.published(owner)
    draft = api.create(owner, title="Oma luonnos")
    comment = client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": "Oma kommentti"},
        headers=owner.headers,
    ).json
    others = client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": "Muiden kommentti"},
        headers=people["member"].headers,
    ).json
    reported = client.post(
        f"/api/v1/comments/{others['id']}/reports", json={"reason": "spam"}, headers=owner.headers
    )
    assert reported.status_code == 201
    url = f"/internal/v1/members/{owner.id}/export"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-Internal-Token": "wrong"}).status_code == 401
    assert client.get(url, headers=owner.headers).status_code == 401
    export = client.get(url, headers=INTERNAL).json
    assert export["member_id"] == owner.id
    assert export["profile"] == {
        "name": "Olli Omistaja",
        "organisation": "Kunta",
        "role": "member",
        "active": True,
        "erased": False,
    }
    assert [e["id"] for e in export["experiments_owned"]] == [experiment["id"], draft["id"]]
    assert export["experiments_owned"][1]["published"] is False
    assert [(c["id"], c["body"]) for c in export["comments"]] == [(comment["id"], "Oma kommentti")]
    assert [r["comment_id"] for r in export["comment_reports"]] == [others["id"]]
    # The declared answer leaves nothing out of what the service holds about the member.
    api.conforms(MemberExportSchema, export)
    with runtime.db.transaction() as session:
        held = services_of(runtime).authors.export(session, uuid.UUID(owner.id))
    assert export == json.loads(json.dumps(held))
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

    experiment = api.published(people["owner"])
    member = make_member("Kaija Kirjoittaja")
    caller = Viewer(member.id)
    erasure = threading.Thread(
        target=api.deliver, args=("members.member.erased.v1", {"member_id": member.id})
    )
    with runtime.create_app().test_request_context(), acting(caller) as session:
        services_of(runtime).comments.post(
            session,
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


def changed(api: Any, person: Any, **fields: Any) -> None:
    """The member's `updated` event, as members sends it on a role change or deactivation."""
    api.deliver(
        "members.member.updated.v1",
        {
            "member_id": person.id,
            "email": "x@kunta.test",
            "name": "Nimi",
            "language": "fi",
            **fields,
        },
    )


def test_a_demoted_coordinators_old_token_moderates_no_more(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    coordinator = people["coordinator"]
    draft = api.create(people["owner"])
    comment = client.post(
        f"/api/v1/experiments/{api.published(people['owner'])['id']}/comments",
        json={"body": "Moi"},
        headers=people["member"].headers,
    ).json
    moderation = "/api/v1/moderation/comments"
    hide = f"/api/v1/comments/{comment['id']}/hide"
    assert client.get(moderation, headers=coordinator.headers).status_code == 200
    assert (
        client.get(f"/api/v1/experiments/{draft['id']}", headers=coordinator.headers).status_code
        == 200
    )

    changed(api, coordinator, role="member")

    assert client.get(moderation, headers=coordinator.headers).status_code == 403
    assert client.post(hide, headers=coordinator.headers).status_code == 403
    assert (
        client.get(f"/api/v1/experiments/{draft['id']}", headers=coordinator.headers).status_code
        == 404  # a member's view of another's draft
    )
    assert (
        client.patch(
            f"/api/v1/experiments/{draft['id']}", json={"goals": "x"}, headers=coordinator.headers
        ).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/comments/{comment['id']}", headers=coordinator.headers).status_code
        == 403
    )
    # Still a member: they may comment as one.
    assert (
        client.post(
            f"/api/v1/experiments/{comment['experiment_id']}/comments",
            json={"body": "Jäsenenä"},
            headers=coordinator.headers,
        ).status_code
        == 201
    )
    changed(api, coordinator, role="coordinator")
    assert client.get(moderation, headers=coordinator.headers).status_code == 200


def test_a_deactivated_or_erased_members_old_token_gets_401_everywhere(
    api: Any, client: FlaskClient, people: dict[str, Any], make_member: Any
) -> None:
    experiment = api.published(people["owner"])
    url = f"/api/v1/experiments/{experiment['id']}"
    coordinator, member = people["coordinator"], people["member"]
    comment = client.post(url + "/comments", json={"body": "Moi"}, headers=member.headers).json

    def answers(person: Any) -> list[int]:
        headers = person.headers
        return [
            client.get(url, headers=headers).status_code,
            client.post("/api/v1/experiments", json=api.draft, headers=headers).status_code,
            client.patch(url, json={"goals": "x"}, headers=headers).status_code,
            client.post(url + "/comments", json={"body": "x"}, headers=headers).status_code,
            client.patch(
                f"/api/v1/comments/{comment['id']}", json={"body": "y"}, headers=headers
            ).status_code,
            client.get("/api/v1/moderation/comments", headers=headers).status_code,
        ]

    changed(api, coordinator, role="coordinator", active=False)
    changed(api, member, active=False)
    assert answers(coordinator) == [401] * 6
    assert answers(member) == [401] * 6
    gone = make_member("Lähtijä")
    api.deliver("members.member.erased.v1", {"member_id": gone.id})
    changed(api, gone, active=True)  # a late update never revives an erased member
    assert answers(gone) == [401] * 6
    changed(api, member, active=True)  # reactivated
    assert (
        client.post(url + "/comments", json={"body": "x"}, headers=member.headers).status_code
        == 201
    )


def test_an_older_event_arriving_late_changes_nothing(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any]
) -> None:
    member = people["member"]
    changed(api, member, active=False)
    stale = dataclasses.replace(
        new_envelope(
            load_payload(
                "members.member.joined.v1",
                {
                    "member_id": member.id,
                    "email": "maija@kunta.test",
                    "name": "Maija Muu",
                    "language": "fi",
                    "newsletter": True,
                    "invitations": True,
                    "role": "coordinator",
                    "joined_at": "2026-01-01T00:00:00+00:00",
                },
            )
        ),
        occurred_at="2000-01-01T00:00:00+00:00",
    )
    runtime.events.consumer.handle(stale)
    answer = client.post("/api/v1/experiments", json=api.draft, headers=member.headers)
    assert answer.status_code == 401


def test_a_token_whose_subject_is_no_member_id_gets_401(
    client: FlaskClient, make_token: Any
) -> None:
    answer = client.post(
        "/api/v1/experiments",
        json={"title": "x"},
        headers={"Authorization": f"Bearer {make_token('not-a-uuid')}"},
    )
    assert answer.status_code == 401
    assert answer.json["detail"] == "The token's subject is not a member id."


def test_personal_answers_are_never_cached(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    draft = api.create(owner)
    export = client.get(f"/internal/v1/members/{owner.id}/export", headers=INTERNAL)
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"
    mine = client.get(f"/api/v1/experiments/{draft['id']}", headers=owner.headers)
    assert mine.status_code == 200 and mine.headers["Cache-Control"] == "no-store"
