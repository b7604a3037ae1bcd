"""Comments with each role: read, post, edit, delete, report, hide, restore, moderation list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from experiments.adapters.models import Comment
from experiments.bootstrap import build_runtime
from experiments.entrypoints.comment_schemas import (
    CommentPageSchema,
    CommentSchema,
    ModeratedCommentSchema,
    ModerationPageSchema,
)
from flask.testing import FlaskClient
from sqlalchemy import select
from uskalla_kit import Runtime

BODY = 'Hieno kokeilu!\nLisää: https://www.kuntaliitto.fi/kokeilut <script>alert("x")</script>'
HTML = (
    "<p>Hieno kokeilu!<br>Lisää: "
    '<a href="https://www.kuntaliitto.fi/kokeilut" rel="nofollow ugc noopener">'
    'https://www.kuntaliitto.fi/kokeilut</a> &lt;script&gt;alert("x")&lt;/script&gt;</p>'
)


@pytest.fixture
def experiment(api: Any, people: dict[str, Any]) -> dict[str, Any]:
    return api.published(people["owner"])  # type: ignore[no-any-return]


def post(client: FlaskClient, experiment: dict[str, Any], person: Any, body: str = BODY) -> Any:
    return client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": body},
        headers=person.headers,
    )


def listed(client: FlaskClient, experiment: dict[str, Any], person: Any = None) -> list[str]:
    headers = person.headers if person else {}
    answer = client.get(f"/api/v1/experiments/{experiment['id']}/comments", headers=headers)
    assert answer.status_code == 200
    return [c["id"] for c in answer.json["items"]]


def test_post_and_read_in_the_plain_text_format(
    api: Any, client: FlaskClient, people: dict[str, Any], experiment: dict[str, Any]
) -> None:
    assert post(client, experiment, people["anonymous"]).status_code == 401
    answer = post(client, experiment, people["member"])
    assert answer.status_code == 201
    api.conforms(CommentSchema, answer.json)
    assert answer.json["body"] == BODY and answer.json["body_html"] == HTML
    assert answer.json["author"] == {"id": people["member"].id, "name": "Maija Muu"}
    assert answer.json["edited_at"] is None
    second = post(client, experiment, people["owner"], "Kiitos!").json
    for person in people.values():
        page = client.get(
            f"/api/v1/experiments/{experiment['id']}/comments", headers=person.headers
        )
        api.conforms(CommentPageSchema, page.json)
        assert [c["id"] for c in page.json["items"]] == [answer.json["id"], second["id"]]
        assert page.json["total"] == 2
    detail = client.get(f"/api/v1/experiments/{experiment['id']}").json
    assert detail["comment_count"] == 2
    [event, _] = [e for e in api.outbox() if e["type"] == "experiments.comment.posted.v1"]
    assert event["data"] == {
        "comment_id": answer.json["id"],
        "experiment_id": experiment["id"],
        "experiment_title": experiment["title"],
        "author_id": people["member"].id,
        "owner_ids": [people["owner"].id],
        "follower_ids": [people["owner"].id],  # owners follow their own
        "posted_at": answer.json["created_at"],
    }


def test_comment_length_and_blank_bodies(
    client: FlaskClient, people: dict[str, Any], experiment: dict[str, Any]
) -> None:
    member = people["member"]
    for body in ("", "  \n\t ", "x" * 5001):
        answer = post(client, experiment, member, body)
        assert answer.status_code == 422 and "body" in answer.json["errors"], body
    assert post(client, experiment, member, "x" * 5000).status_code == 201
    assert post(client, experiment, member, "x").status_code == 201
    bad = client.post(
        f"/api/v1/experiments/{experiment['id']}/comments", json={"body": 5}, headers=member.headers
    )
    assert bad.status_code == 422
    assert len(listed(client, experiment)) == 2


def test_drafts_take_comments_only_from_those_who_see_them(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    draft = api.create(people["owner"])
    assert post(client, draft, people["member"]).status_code == 404
    assert client.get(f"/api/v1/experiments/{draft['id']}/comments").status_code == 404
    assert post(client, draft, people["owner"]).status_code == 201
    assert post(client, draft, people["coordinator"]).status_code == 201
    missing = {"id": "7d2f5b8c-5f7e-4d8a-9c55-1a2b3c4d5e6f"}
    assert post(client, missing, people["member"]).status_code == 404


def test_edit_and_delete_by_role(
    client: FlaskClient, people: dict[str, Any], experiment: dict[str, Any]
) -> None:
    comment = post(client, experiment, people["member"]).json
    url = f"/api/v1/comments/{comment['id']}"
    change = {"body": "Korjattu: www.kunta.fi"}
    assert client.patch(url, json=change).status_code == 401
    assert client.patch(url, json=change, headers=people["owner"].headers).status_code == 403
    edited = client.patch(url, json=change, headers=people["member"].headers)
    assert edited.status_code == 200
    assert edited.json["body"] == change["body"] and edited.json["edited_at"]
    assert edited.json["body_html"] == (
        '<p>Korjattu: <a href="http://www.kunta.fi" rel="nofollow ugc noopener">www.kunta.fi</a></p>'
    )
    moderated = client.patch(
        url, json={"body": "Asiaton osa poistettu."}, headers=people["coordinator"].headers
    )
    assert moderated.status_code == 200
    assert client.patch(url, json={"body": ""}, headers=people["member"].headers).status_code == 422
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers=people["owner"].headers).status_code == 403
    assert client.delete(url, headers=people["member"].headers).status_code == 204
    assert client.delete(url, headers=people["member"].headers).status_code == 404
    other = post(client, experiment, people["member"]).json
    by_coordinator = client.delete(
        f"/api/v1/comments/{other['id']}", headers=people["coordinator"].headers
    )
    assert by_coordinator.status_code == 204
    assert listed(client, experiment) == []


def test_three_different_members_hide_a_comment(
    api: Any,
    client: FlaskClient,
    people: dict[str, Any],
    experiment: dict[str, Any],
    make_member: Callable[[str], Any],
) -> None:
    comment = post(client, experiment, people["member"]).json
    url = f"/api/v1/comments/{comment['id']}/reports"
    assert client.post(url, json={"reason": "spam"}).status_code == 401
    own = client.post(url, json={"reason": "spam"}, headers=people["member"].headers)
    assert own.status_code == 409
    bad = client.post(url, json={"reason": "boring"}, headers=people["owner"].headers)
    assert bad.status_code == 422 and "reason" in bad.json["errors"]
    first = client.post(url, json={"reason": "spam"}, headers=people["owner"].headers)
    assert first.status_code == 201 and first.json == {"status": "reported", "hidden": False}
    twice = client.post(url, json={"reason": "offensive"}, headers=people["owner"].headers)
    assert twice.status_code == 409
    second = make_member("Toinen Ilmoittaja")
    assert (
        client.post(url, json={"reason": "off_topic"}, headers=second.headers).json["hidden"]
        is False
    )
    assert listed(client, experiment) == [comment["id"]]
    third = make_member("Kolmas Ilmoittaja")
    hidden = client.post(url, json={"reason": "other"}, headers=third.headers)
    assert hidden.json == {"status": "reported", "hidden": True}
    assert listed(client, experiment) == []
    assert client.get(f"/api/v1/experiments/{experiment['id']}").json["comment_count"] == 0
    queue = client.get("/api/v1/moderation/comments", headers=people["coordinator"].headers)
    api.conforms(ModerationPageSchema, queue.json)
    [item] = queue.json["items"]
    assert item["hidden"] is True and item["hidden_reason"] == "reports"
    assert item["report_count"] == 3
    assert item["reports"] == {"spam": 1, "offensive": 0, "off_topic": 1, "other": 1}


def test_coordinators_hide_and_restore(
    api: Any,
    client: FlaskClient,
    people: dict[str, Any],
    experiment: dict[str, Any],
    make_member: Callable[[str], Any],
) -> None:
    comment = post(client, experiment, people["member"]).json
    base = f"/api/v1/comments/{comment['id']}"
    for action in ("hide", "restore"):
        assert client.post(f"{base}/{action}").status_code == 401
        assert client.post(f"{base}/{action}", headers=people["owner"].headers).status_code == 403
        assert client.post(f"{base}/{action}", headers=people["member"].headers).status_code == 403
    hidden = client.post(f"{base}/hide", headers=people["coordinator"].headers)
    assert hidden.status_code == 200
    api.conforms(ModeratedCommentSchema, hidden.json)
    assert hidden.json["hidden"] is True and hidden.json["hidden_reason"] == "coordinator"
    assert listed(client, experiment, people["member"]) == []
    hidden_list = client.get(
        "/api/v1/moderation/comments",
        query_string={"status": "hidden"},
        headers=people["coordinator"].headers,
    )
    assert [c["id"] for c in hidden_list.json["items"]] == [comment["id"]]
    restored = client.post(f"{base}/restore", headers=people["coordinator"].headers)
    assert restored.json["hidden"] is False and restored.json["restored_at"]
    assert listed(client, experiment) == [comment["id"]]
    # Reports judged before the restore no longer count: three new reporters are needed.
    reporters = [make_member(f"Ilmoittaja {n}") for n in range(3)]
    for n, reporter in enumerate(reporters[:2]):
        answer = client.post(f"{base}/reports", json={"reason": "spam"}, headers=reporter.headers)
        assert answer.json["hidden"] is False, n
    last = client.post(f"{base}/reports", json={"reason": "spam"}, headers=reporters[2].headers)
    assert last.json["hidden"] is True
    missing = "/api/v1/comments/7d2f5b8c-5f7e-4d8a-9c55-1a2b3c4d5e6f/hide"
    assert client.post(missing, headers=people["coordinator"].headers).status_code == 404


def test_moderation_list_is_for_coordinators(
    client: FlaskClient, people: dict[str, Any], experiment: dict[str, Any]
) -> None:
    reported = post(client, experiment, people["member"]).json
    post(client, experiment, people["member"], "Ei ilmoitettu")
    client.post(
        f"/api/v1/comments/{reported['id']}/reports",
        json={"reason": "spam"},
        headers=people["owner"].headers,
    )
    assert client.get("/api/v1/moderation/comments").status_code == 401
    assert (
        client.get("/api/v1/moderation/comments", headers=people["member"].headers).status_code
        == 403
    )
    answer = client.get(
        "/api/v1/moderation/comments",
        query_string={"status": "reported"},
        headers=people["coordinator"].headers,
    )
    assert answer.status_code == 200 and answer.json["total"] == 1
    assert [c["id"] for c in answer.json["items"]] == [reported["id"]]
    bad = client.get(
        "/api/v1/moderation/comments",
        query_string={"status": "x"},
        headers=people["coordinator"].headers,
    )
    assert bad.status_code == 422


def test_posting_comments_is_rate_limited_per_member(
    runtime: Runtime,
    api: Any,
    people: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATE_LIMITS", "on")
    monkeypatch.setenv("COMMENT_RATE_LIMIT", "2/minute")
    limited = build_runtime()
    try:
        client = limited.create_app().test_client()
        experiment = api.published(people["owner"])
        codes = [
            post(client, experiment, people["member"], f"Viesti {n}").status_code for n in range(3)
        ]
        assert codes == [201, 201, 429]
        refused = post(client, experiment, people["member"], "Vielä")
        assert refused.content_type == "application/problem+json"
        assert int(refused.headers["Retry-After"]) >= 1
        # another member has a budget of their own
        assert post(client, experiment, people["owner"], "Omistajan vastaus").status_code == 201
        # reading is not limited
        assert all(listed(client, experiment) for _ in range(5))
        with limited.db.transaction() as session:
            assert len(session.scalars(select(Comment)).all()) == 3
    finally:
        limited.db.dispose()
