"""The stage flow and the evaluation, over HTTP and as plain domain rules."""

from __future__ import annotations

from typing import Any

import pytest
from experiments.domain.stages import StageError, check_evaluable, check_transition
from experiments.entrypoints.schemas import ExperimentSchema
from flask.testing import FlaskClient

EVALUATION = {
    "outcome": "failed",
    "rating": 3,
    "what_worked": "Asiakkaat pitivät videoyhteydestä.",
    "what_failed": "Yhteydet katkeilivat.",
    "lessons": "Verkkoyhteys ensin kuntoon.",
    "next_steps": "Uusi kokeilu paremmalla yhteydellä.",
}


@pytest.mark.parametrize(
    ("current", "target", "has_evaluation", "allowed"),
    [
        ("idea", "planning", False, True),
        ("planning", "running", False, True),
        ("running", "evaluated", True, True),
        ("running", "evaluated", False, False),
        ("idea", "running", False, False),
        ("idea", "evaluated", True, False),
        ("planning", "idea", False, False),
        ("running", "running", False, False),
        ("idea", "discontinued", False, True),
        ("planning", "discontinued", False, True),
        ("running", "discontinued", True, True),
        ("evaluated", "discontinued", True, False),
        ("discontinued", "running", False, False),
        ("discontinued", "discontinued", False, False),
    ],
)
def test_transitions(current: str, target: str, has_evaluation: bool, allowed: bool) -> None:
    if allowed:
        check_transition(current, target, has_evaluation=has_evaluation)
    else:
        with pytest.raises(StageError):
            check_transition(current, target, has_evaluation=has_evaluation)


def test_evaluable_stages() -> None:
    for stage in ("running", "evaluated", "discontinued"):
        check_evaluable(stage)
    for stage in ("idea", "planning"):
        with pytest.raises(StageError, match="running"):
            check_evaluable(stage)


def test_the_whole_flow_over_http(api: Any, client: FlaskClient, people: dict[str, Any]) -> None:
    experiment = api.published(people["owner"])
    url = f"/api/v1/experiments/{experiment['id']}"
    owner = people["owner"].headers

    def move(stage: str, headers: dict[str, str] = owner) -> Any:
        return client.post(url + "/stage", json={"stage": stage}, headers=headers)

    skipped = move("running")
    assert skipped.status_code == 409
    assert skipped.json["detail"] == (
        "From 'idea' the experiment can move only to 'planning' or 'discontinued'."
    )
    assert move("planning").json["stage"] == "planning"
    early = client.put(url + "/evaluation", json=EVALUATION, headers=owner)
    assert early.status_code == 409 and "running" in early.json["detail"]
    assert move("running").json["stage"] == "running"
    unevaluated = move("evaluated")
    assert unevaluated.status_code == 409 and "evaluation first" in unevaluated.json["detail"]
    evaluated = client.put(url + "/evaluation", json=EVALUATION, headers=owner)
    assert evaluated.status_code == 200
    api.conforms(ExperimentSchema, evaluated.json)
    assert {k: evaluated.json["evaluation"][k] for k in EVALUATION} == EVALUATION
    assert evaluated.json["outcome"] == "failed" and evaluated.json["rating"] == 3
    done = move("evaluated")
    assert done.status_code == 200 and done.json["stage"] == "evaluated"
    final = move("discontinued")
    assert final.status_code == 409 and "final" in final.json["detail"]
    # The evaluation can still be refined after the end.
    revised = client.put(url + "/evaluation", json={**EVALUATION, "rating": 4}, headers=owner)
    assert revised.status_code == 200 and revised.json["evaluation"]["rating"] == 4


def test_discontinued_from_any_open_stage(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    experiment = api.create(people["owner"], stage="planning")
    url = f"/api/v1/experiments/{experiment['id']}/stage"
    assert experiment["stage"] == "planning"
    stopped = client.post(url, json={"stage": "discontinued"}, headers=people["owner"].headers)
    assert stopped.status_code == 200 and stopped.json["stage"] == "discontinued"
    again = client.post(url, json={"stage": "running"}, headers=people["owner"].headers)
    assert again.status_code == 409
    # A discontinued experiment can still record what was learnt.
    lessons = client.put(
        url.replace("/stage", "/evaluation"),
        json={**EVALUATION, "outcome": "inconclusive"},
        headers=people["owner"].headers,
    )
    assert lessons.status_code == 200


def test_stage_and_evaluation_by_role(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    experiment = api.published(people["owner"], stage="running")
    url = f"/api/v1/experiments/{experiment['id']}"
    assert client.post(url + "/stage", json={"stage": "discontinued"}).status_code == 401
    assert client.put(url + "/evaluation", json=EVALUATION).status_code == 401
    member = people["member"].headers
    assert (
        client.post(url + "/stage", json={"stage": "discontinued"}, headers=member).status_code
        == 403
    )
    assert client.put(url + "/evaluation", json=EVALUATION, headers=member).status_code == 403
    coordinator = people["coordinator"].headers
    assert client.put(url + "/evaluation", json=EVALUATION, headers=coordinator).status_code == 200
    moved = client.post(url + "/stage", json={"stage": "evaluated"}, headers=coordinator)
    assert moved.status_code == 200
    draft = api.create(people["owner"], stage="running")
    hidden = f"/api/v1/experiments/{draft['id']}"
    assert client.put(hidden + "/evaluation", json=EVALUATION, headers=member).status_code == 404
    assert (
        client.post(hidden + "/stage", json={"stage": "evaluated"}, headers=member).status_code
        == 404
    )


def test_bad_stage_and_evaluation_input(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    experiment = api.create(people["owner"], stage="running")
    url = f"/api/v1/experiments/{experiment['id']}"
    owner = people["owner"].headers
    assert client.post(url + "/stage", json={"stage": "done"}, headers=owner).status_code == 422
    assert client.post(url + "/stage", json={}, headers=owner).status_code == 422
    for bad, field in (
        ({**EVALUATION, "rating": 0}, "rating"),
        ({**EVALUATION, "rating": 11}, "rating"),
        ({**EVALUATION, "rating": "5"}, "rating"),
        ({**EVALUATION, "outcome": "great"}, "outcome"),
        ({**EVALUATION, "lessons": "x" * 5001}, "lessons"),
        ({"rating": 5}, "outcome"),
    ):
        answer = client.put(url + "/evaluation", json=bad, headers=owner)
        assert answer.status_code == 422 and field in answer.json["errors"], bad
    assert client.get(url, headers=owner).json["evaluation"] is None
    created = client.post(
        "/api/v1/experiments", json={**api.draft, "stage": "evaluated"}, headers=owner
    )
    assert created.status_code == 422 and "stage" in created.json["errors"]
