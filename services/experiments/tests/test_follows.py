"""Following experiments: follow and stop, owners follow their own, the member's follows,
`?owner=me`, the events that carry the followers, and erasure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from experiments.entrypoints.schemas import (
    ExperimentPageSchema,
    ExperimentSchema,
    FollowedPageSchema,
    FollowStateSchema,
)
from flask.testing import FlaskClient


def follow(client: FlaskClient, experiment: dict[str, Any], person: Any) -> Any:
    return client.post(f"/api/v1/experiments/{experiment['id']}/followers", headers=person.headers)


def unfollow(client: FlaskClient, experiment: dict[str, Any], person: Any) -> Any:
    return client.delete(
        f"/api/v1/experiments/{experiment['id']}/followers/me", headers=person.headers
    )


def follows(client: FlaskClient, person: Any, **query: Any) -> list[str]:
    answer = client.get("/api/v1/members/me/follows", headers=person.headers, query_string=query)
    assert answer.status_code == 200, answer.json
    FollowedPageSchema().validate(answer.json)
    return [item["id"] for item in answer.json["items"]]


def events(api: Any, event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in api.outbox() if e["type"] == event_type]


def test_follow_twice_is_201_then_200_and_unfollow_is_idempotent(
    client: FlaskClient, api: Any, people: dict[str, Any]
) -> None:
    experiment = api.published(people["owner"])
    member = people["member"]
    first = follow(client, experiment, member)
    assert first.status_code == 201, first.json
    api.conforms(FollowStateSchema, first.json)
    assert first.json["following"] is True
    assert first.json["follower_count"] == 2  # the owner follows their own
    again = follow(client, experiment, member)
    assert again.status_code == 200
    assert again.json["followed_at"] == first.json["followed_at"]  # nothing changed
    assert again.json["follower_count"] == 2
    shown = client.get(f"/api/v1/experiments/{experiment['id']}", headers=member.headers).json
    assert (shown["follower_count"], shown["following"]) == (2, True)
    assert client.get(f"/api/v1/experiments/{experiment['id']}").json["following"] is False
    assert follows(client, member) == [experiment["id"]]

    for _ in range(2):
        gone = unfollow(client, experiment, member)
        assert gone.status_code == 200
        assert gone.json == {
            "experiment_id": experiment["id"],
            "following": False,
            "followed_at": None,
            "follower_count": 1,
        }
    assert follows(client, member) == []


def test_only_members_follow(client: FlaskClient, api: Any, people: dict[str, Any]) -> None:
    experiment = api.published(people["owner"])
    assert follow(client, experiment, people["anonymous"]).status_code == 401
    assert unfollow(client, experiment, people["anonymous"]).status_code == 401
    assert client.get("/api/v1/members/me/follows").status_code == 401
    missing = {"id": "6f1c2b9e-3d4a-4f5b-8c7d-2e1f0a9b8c7d"}
    assert follow(client, missing, people["member"]).status_code == 404
    assert unfollow(client, missing, people["member"]).status_code == 404


def test_a_draft_cannot_be_followed(client: FlaskClient, api: Any, people: dict[str, Any]) -> None:
    """404 to whoever may not see it (drafts do not leak), 409 to those who may."""
    draft = api.create(people["owner"])
    assert follow(client, draft, people["member"]).status_code == 404
    assert unfollow(client, draft, people["member"]).status_code == 404
    refused = follow(client, draft, people["coordinator"])
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert follow(client, draft, people["owner"]).status_code == 409
    # The owner follows their own draft nevertheless, and sees it among their follows.
    assert follows(client, people["owner"]) == [draft["id"]]
    assert follows(client, people["member"]) == []


def test_owners_follow_their_own_from_creation_and_when_added(
    client: FlaskClient, api: Any, people: dict[str, Any]
) -> None:
    owner, member = people["owner"], people["member"]
    created = api.create(owner)
    api.conforms(ExperimentSchema, created)
    assert (created["follower_count"], created["following"]) == (1, True)
    answer = client.patch(
        f"/api/v1/experiments/{created['id']}",
        json={"owners": {"add": [member.id], "remove": [owner.id]}},
        headers=owner.headers,
    )
    assert answer.status_code == 200, answer.json
    assert follows(client, member) == [created["id"]]
    # A removed owner keeps following until they stop, but a draft they no longer own is
    # no longer theirs to see, in their follows either.
    assert follows(client, owner) == []
    published = client.post(
        f"/api/v1/experiments/{created['id']}/publish", headers=member.headers
    ).json
    assert published["follower_count"] == 2
    assert follows(client, owner) == [created["id"]]
    assert unfollow(client, published, member).json["follower_count"] == 1


def test_the_member_s_follows_are_paged_newest_first(
    client: FlaskClient, api: Any, people: dict[str, Any], make_member: Callable[[str], Any]
) -> None:
    reader = make_member("Lukija")
    made = [api.published(people["owner"], title=f"Kokeilu {n}") for n in range(3)]
    for experiment in made:
        assert follow(client, experiment, reader).status_code == 201
    newest_first = [e["id"] for e in reversed(made)]
    assert follows(client, reader) == newest_first
    assert follows(client, reader, page=2, per_page=2) == newest_first[2:]
    answer = client.get(
        "/api/v1/members/me/follows", headers=reader.headers, query_string={"per_page": 101}
    )
    assert answer.status_code == 422


def test_owner_me_lists_the_caller_s_own_drafts_included(
    client: FlaskClient, api: Any, people: dict[str, Any]
) -> None:
    owner, member = people["owner"], people["member"]
    draft = api.create(owner, title="Luonnos uimahalleista", themes=[])
    public = api.published(owner, title="Julkaistu kokeilu")
    others = api.create(member, title="Toisen luonnos")

    def listed(person: Any, **query: Any) -> list[str]:
        answer = client.get(
            "/api/v1/experiments",
            headers=person.headers,
            query_string={"owner": "me", **query},
        )
        assert answer.status_code == 200, answer.json
        api.conforms(ExperimentPageSchema, answer.json)
        return [item["id"] for item in answer.json["items"]]

    assert listed(owner) == [public["id"], draft["id"]]  # published, then created
    assert listed(member) == [others["id"]]
    assert listed(owner, q="uimahalli") == [draft["id"]]
    assert listed(owner, theme="digital-municipality") == [public["id"]]
    assert listed(owner, per_page=1, page=2) == [draft["id"]]
    everyone = client.get("/api/v1/experiments").json
    assert [item["id"] for item in everyone["items"]] == [public["id"]]
    anonymous = client.get("/api/v1/experiments", query_string={"owner": "me"})
    assert anonymous.status_code == 401
    assert client.get("/api/v1/experiments", query_string={"owner": "you"}).status_code == 422


def test_a_published_experiment_s_stage_change_tells_its_followers(
    client: FlaskClient, api: Any, people: dict[str, Any]
) -> None:
    owner, member = people["owner"], people["member"]
    draft = api.create(owner)
    moved = client.post(
        f"/api/v1/experiments/{draft['id']}/stage",
        json={"stage": "planning"},
        headers=owner.headers,
    )
    assert moved.status_code == 200
    assert events(api, "experiments.experiment.stage_changed.v1") == []  # a draft: nobody hears
    client.post(f"/api/v1/experiments/{draft['id']}/publish", headers=owner.headers)
    follow(client, draft, member)
    moved = client.post(
        f"/api/v1/experiments/{draft['id']}/stage",
        json={"stage": "running"},
        headers=people["coordinator"].headers,
    )
    assert moved.status_code == 200
    [event] = events(api, "experiments.experiment.stage_changed.v1")
    assert event == {
        "experiment_id": draft["id"],
        "title": draft["title"],
        "stage": "running",
        "previous_stage": "planning",
        "actor_id": people["coordinator"].id,
        "follower_ids": sorted([owner.id, member.id]),
        "changed_at": moved.json["updated_at"],
    }
    refused = client.post(
        f"/api/v1/experiments/{draft['id']}/stage", json={"stage": "idea"}, headers=owner.headers
    )
    assert refused.status_code == 409
    assert len(events(api, "experiments.experiment.stage_changed.v1")) == 1


def test_a_first_and_a_changed_evaluation_tell_the_followers(
    client: FlaskClient, api: Any, people: dict[str, Any]
) -> None:
    owner, member = people["owner"], people["member"]
    experiment = api.published(owner, stage="running")
    follow(client, experiment, member)
    unfollow(client, experiment, owner)  # owners may stop too
    path = f"/api/v1/experiments/{experiment['id']}/evaluation"
    evaluation = {"outcome": "failed", "rating": 3, "lessons": "Liian vähän käyttäjiä."}
    first = client.put(path, json=evaluation, headers=owner.headers)
    assert first.status_code == 200
    same = client.put(path, json=evaluation, headers=owner.headers)  # no change: no event
    assert same.status_code == 200
    changed = client.put(path, json={**evaluation, "rating": 4}, headers=owner.headers)
    sent = events(api, "experiments.experiment.evaluated.v1")
    assert sent == [
        {
            "experiment_id": experiment["id"],
            "title": experiment["title"],
            "outcome": "failed",
            "first": True,
            "actor_id": owner.id,
            "follower_ids": [member.id],
            "evaluated_at": first.json["evaluation"]["evaluated_at"],
        },
        {
            "experiment_id": experiment["id"],
            "title": experiment["title"],
            "outcome": "failed",
            "first": False,
            "actor_id": owner.id,
            "follower_ids": [member.id],
            "evaluated_at": changed.json["evaluation"]["evaluated_at"],
        },
    ]


def test_a_comment_carries_the_followers_and_its_time(
    client: FlaskClient, api: Any, people: dict[str, Any], make_member: Callable[[str], Any]
) -> None:
    owner, member = people["owner"], people["member"]
    reader = make_member("Lukija")
    experiment = api.published(owner)
    follow(client, experiment, reader)
    posted = client.post(
        f"/api/v1/experiments/{experiment['id']}/comments",
        json={"body": "Hyvä!"},
        headers=member.headers,
    )
    assert posted.status_code == 201
    [event] = events(api, "experiments.comment.posted.v1")
    assert event["follower_ids"] == sorted([owner.id, reader.id])
    assert event["owner_ids"] == [owner.id]
    assert event["posted_at"] == posted.json["created_at"]


def test_erasure_removes_the_member_s_follows(
    client: FlaskClient, api: Any, people: dict[str, Any]
) -> None:
    owner, member = people["owner"], people["member"]
    experiment = api.published(owner)
    follow(client, experiment, member)
    api.deliver("members.member.erased.v1", {"member_id": member.id})
    assert client.get(f"/api/v1/experiments/{experiment['id']}").json["follower_count"] == 1
    client.post(
        f"/api/v1/experiments/{experiment['id']}/stage",
        json={"stage": "planning"},
        headers=owner.headers,
    )
    [event] = events(api, "experiments.experiment.stage_changed.v1")
    assert event["follower_ids"] == [owner.id]
    assert follow(client, experiment, member).status_code == 401  # the old token


def test_the_description_is_linked_by_the_comments_rules(
    client: FlaskClient, api: Any, people: dict[str, Any]
) -> None:
    experiment = api.published(
        people["owner"],
        description='Katso https://www.kunta.fi/kokeilu ja kirjoita kokeilut@kunta.fi\n<b>"x"</b>',
    )
    assert experiment["description_html"] == (
        '<p>Katso <a href="https://www.kunta.fi/kokeilu" rel="nofollow ugc noopener">'
        "https://www.kunta.fi/kokeilu</a> ja kirjoita "
        '<a href="mailto:kokeilut@kunta.fi" rel="nofollow ugc noopener">kokeilut@kunta.fi</a>'
        '<br>&lt;b&gt;"x"&lt;/b&gt;</p>'
    )
