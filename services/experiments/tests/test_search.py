"""The list: filters, sorting, pages and full-text search with Finnish, Swedish, English stems."""

from __future__ import annotations

from typing import Any

from experiments.entrypoints.schemas import ExperimentPageSchema
from flask.testing import FlaskClient

EVALUATION = {"outcome": "failed", "rating": 2, "lessons": "Hankintaosaaminen puuttui."}


def ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.json
    return [item["id"] for item in answer.json["items"]]


def evaluate(client: FlaskClient, owner: Any, experiment: dict[str, Any], **values: Any) -> None:
    url = f"/api/v1/experiments/{experiment['id']}"
    assert (
        client.put(
            url + "/evaluation", json={**EVALUATION, **values}, headers=owner.headers
        ).status_code
        == 200
    )


def test_finnish_stemming_finds_inflected_forms(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    plural = api.published(owner, title="Kuntien kokeiluja yhdessä", summary="Yhteisiä hankkeita.")
    genitive = api.published(owner, title="Kokeilun tulokset", summary="Mitä opimme.")
    other = api.published(owner, title="Uimahallin aukioloajat", summary="Pidemmät aukioloajat.")
    found = ids(client.get("/api/v1/experiments", query_string={"q": "kokeilu"}))
    assert set(found) == {plural["id"], genitive["id"]}
    assert other["id"] not in found
    # and the other way round: an inflected query finds the base form
    base = api.published(owner, title="Kokeilu kirjastossa", summary="Lainaamo.")
    assert base["id"] in ids(client.get("/api/v1/experiments", query_string={"q": "kokeiluja"}))


def test_swedish_and_english_documents_use_their_own_stemming(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    swedish = api.published(
        owner, language="sv", title="Försöken med digitala tjänster", summary="Kommunens tjänster."
    )
    english = api.published(
        owner, language="en", title="Experimenting with libraries", summary="Public libraries."
    )
    assert ids(client.get("/api/v1/experiments", query_string={"q": "försök"})) == [swedish["id"]]
    assert ids(client.get("/api/v1/experiments", query_string={"q": "tjänst"})) == [swedish["id"]]
    assert ids(client.get("/api/v1/experiments", query_string={"q": "library"})) == [english["id"]]
    assert ids(client.get("/api/v1/experiments", query_string={"q": "experiment"})) == [
        english["id"]
    ]
    only_en = client.get("/api/v1/experiments", query_string={"language": "en"})
    assert ids(only_en) == [english["id"]]


def test_search_covers_description_problem_and_lessons_and_ranks_title_first(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    in_description = api.published(
        owner, title="Toinen", summary="Muu", description="Tässä puhutaan liikuntapaikan käytöstä."
    )
    in_title = api.published(owner, title="Liikuntapaikat kaikille", summary="Avoimet ovet.")
    in_problem = api.published(
        owner, title="Kolmas", summary="Muu", problem="Liikuntapaikkaa ei ole."
    )
    found = ids(client.get("/api/v1/experiments", query_string={"q": "liikuntapaikka"}))
    assert found[0] == in_title["id"]
    assert set(found) == {in_title["id"], in_description["id"], in_problem["id"]}
    failed = api.published(owner, title="Neljäs", summary="Muu", stage="running")
    evaluate(client, owner, failed, lessons="Hankintaosaaminen puuttui kokonaan.")
    # a failed experiment is searchable by its lessons
    assert ids(client.get("/api/v1/experiments", query_string={"q": "hankintaosaaminen"})) == [
        failed["id"]
    ]
    phrase = client.get("/api/v1/experiments", query_string={"q": '"avoimet ovet" -uimahalli'})
    assert ids(phrase) == [in_title["id"]]
    nothing = client.get("/api/v1/experiments", query_string={"q": "ja"})  # only a stop word
    assert ids(nothing) == []


def test_filters_and_failed_experiments_are_listed(
    api: Any, client: FlaskClient, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    a = api.published(
        owner, themes=["digital-municipality"], municipality_codes=["049"], kind="pilot"
    )
    b = api.published(
        owner,
        themes=["innovative-procurement", "digital-municipality"],
        municipality_codes=["091"],
        stage="running",
        scale="large",
    )
    evaluate(client, owner, b)
    api.create(owner, themes=["innovative-procurement"])  # a draft is never listed

    def listed(**query: str) -> set[str]:
        return set(ids(client.get("/api/v1/experiments", query_string=query)))

    assert listed() == {a["id"], b["id"]}
    assert listed(theme="innovative-procurement") == {b["id"]}
    assert listed(theme="digital-municipality") == {a["id"], b["id"]}
    assert listed(theme="parallel-organisations") == set()
    assert listed(municipality_code="049") == {a["id"]}
    assert listed(stage="running") == {b["id"]}
    assert listed(kind="pilot") == {a["id"]}
    assert listed(scale="large") == {b["id"]}
    assert listed(outcome="failed") == {b["id"]}
    assert listed(outcome="succeeded") == set()
    assert listed(outcome="failed", theme="digital-municipality", q="kirjasto") == {b["id"]}
    for bad in (
        {"stage": "x"},
        {"kind": "x"},
        {"outcome": "x"},
        {"sort": "x"},
        {"municipality_code": "999"},
        {"per_page": "101"},
        {"page": "0"},
        {"theme": "<b>"},
    ):
        answer = client.get("/api/v1/experiments", query_string=bad)
        assert answer.status_code == 422, bad
        assert set(answer.json["errors"]) == set(bad)


def test_sorting_and_pages(api: Any, client: FlaskClient, people: dict[str, Any]) -> None:
    owner = people["owner"]
    made = [api.published(owner, title=f"Kokeilu numero {n}") for n in range(5)]
    newest = ids(client.get("/api/v1/experiments", query_string={"sort": "newest"}))
    assert newest == [m["id"] for m in reversed(made)]
    client.patch(
        f"/api/v1/experiments/{made[0]['id']}", json={"goals": "Uudet"}, headers=owner.headers
    )
    updated = ids(client.get("/api/v1/experiments", query_string={"sort": "updated"}))
    assert updated[0] == made[0]["id"]
    page = client.get("/api/v1/experiments", query_string={"per_page": 2, "page": 2})
    api.conforms(ExperimentPageSchema, page.json)
    assert page.json["total"] == 5 and page.json["page"] == 2 and page.json["per_page"] == 2
    assert ids(page) == [m["id"] for m in reversed(made)][2:4]
    past = client.get("/api/v1/experiments", query_string={"per_page": 2, "page": 9})
    assert past.json["items"] == [] and past.json["total"] == 5
    ranked = client.get("/api/v1/experiments", query_string={"q": "kokeilu", "sort": "relevance"})
    assert ranked.json["total"] == 5
    # relevance without words falls back to the newest first
    assert ids(client.get("/api/v1/experiments", query_string={"sort": "relevance"})) == newest
