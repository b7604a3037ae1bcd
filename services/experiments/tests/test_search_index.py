"""The search side tables (migration 0005): kept by the triggers through every write, and pages
ranked exactly as ts_rank over every match would rank them, however they are found."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from experiments.adapters.search import ExperimentFilters, TextQuery, search_experiments
from flask.testing import FlaskClient
from sqlalchemy import event, text
from uskalla_kit import Runtime

EVALUATION = {"outcome": "failed", "rating": 3, "lessons": "Pyöräteline jäi käyttämättä."}


def ids(client: FlaskClient, **query: Any) -> list[str]:
    answer = client.get("/api/v1/experiments", query_string=query)
    assert answer.status_code == 200, answer.json
    return [item["id"] for item in answer.json["items"]]


def side_rows(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.transaction() as session:
        search = session.scalar(text("SELECT count(*) FROM experiment_search"))
        heads = session.scalar(text("SELECT count(*) FROM experiment_search_heads"))
    return int(search or 0), int(heads or 0)


def test_side_tables_follow_every_write(
    api: Any, client: FlaskClient, runtime: Runtime, people: dict[str, Any]
) -> None:
    owner = people["owner"]
    draft = api.create(owner, title="Luonnoskokeilu", summary="Vielä kesken.")
    assert side_rows(runtime) == (0, 0)  # a draft is not searchable at all
    assert ids(client, q="luonnoskokeilu") == []

    url = f"/api/v1/experiments/{draft['id']}"
    assert client.post(url + "/publish", headers=owner.headers).status_code == 200
    assert side_rows(runtime) == (1, 1)
    assert ids(client, q="luonnoskokeilu") == [draft["id"]]

    # an edit replaces the words, the filters and the sort keys
    edited = {"title": "Pyöräilykokeilu", "themes": ["mobility-and-transport"]}
    assert client.patch(url, json=edited, headers=owner.headers).status_code == 200
    assert ids(client, q="luonnoskokeilu") == []
    assert ids(client, q="pyöräilykokeilu", theme="mobility-and-transport") == [draft["id"]]
    assert ids(client, q="pyöräilykokeilu", theme="digital-municipality") == []

    # the stage flow and the evaluation: a failed experiment is found by its lessons
    for stage in ("planning", "running"):
        moved = client.post(url + "/stage", json={"stage": stage}, headers=owner.headers)
        assert moved.status_code == 200
    assert ids(client, stage="running") == [draft["id"]]
    assert (
        client.put(url + "/evaluation", json=EVALUATION, headers=owner.headers).status_code == 200
    )
    assert ids(client, q="pyöräteline", outcome="failed") == [draft["id"]]
    assert ids(client, q="pyöräteline", outcome="succeeded") == []
    newest = client.get("/api/v1/experiments", query_string={"sort": "updated"}).json
    assert newest["items"][0]["outcome"] == "failed"
    assert side_rows(runtime) == (1, 1)


def test_erasure_leaves_what_was_written_searchable_as_written(
    api: Any, client: FlaskClient, people: dict[str, Any], make_member: Any
) -> None:
    """Erasure edits no text (the experiments a member registered stay as the public record),
    so search finds what it found before."""
    member = make_member("Eero Etsittävä")
    mine = api.published(member, description="Yhteyshenkilö Eero Etsittävä.")
    others = api.published(people["owner"], summary="Kiitos, Eero Etsittävä!")
    found = ids(client, q="etsittävä")
    assert sorted(found) == sorted([mine["id"], others["id"]])
    api.deliver("members.member.erased.v1", {"member_id": member.id})
    assert ids(client, q="etsittävä") == found


# A registry where the query words fall in titles, summaries and bodies in every mix, with
# shared publication times (so that the id breaks ties), in three languages and two themes.
WORDS = ["kokeilu", "kokeiluja", "kirjasto", "kirjaston", "palvelu", "kunta", "uusi", "ja"]


def seed(runtime: Runtime, count: int = 90) -> None:
    rng = random.Random(4)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(count):
        language = "sv" if n % 15 == 0 else "fi"

        def words(k: int, language: str = language) -> str:
            if language == "sv":
                return " ".join(rng.choices(["försök", "försöket", "bibliotek", "och"], k=k))
            return " ".join(rng.choices(WORDS, k=k))

        rows.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "title": words(rng.randint(1, 4)),
                "summary": words(rng.randint(0, 8)),
                "description": words(rng.randint(0, 20)),
                "themes": [rng.choice(["employment", "digital-municipality"])],
                "language": language,
                "stage": rng.choice(["idea", "running"]),
                "at": start + timedelta(days=n // 3),  # three at a time
            }
        )
    with runtime.db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO experiments (id, title, summary, description, kind, scale, themes,"
                " language, stage, created_at, updated_at, published_at)"
                " VALUES (:id, :title, :summary, :description, 'experiment', 'small', :themes,"
                " :language, :stage, :at, :at, :at)"
            ),
            rows,
        )


def ranked_by_hand(runtime: Runtime, filters: ExperimentFilters) -> list[uuid.UUID]:
    """Every match ranked the plain way: ts_rank of title A + summary B over every match."""
    configs = (("fi", "finnish"), ("sv", "swedish"), ("en", "english"))
    head = " ".join(
        f"WHEN '{lang}' THEN setweight(to_tsvector('{cfg}', title), 'A')"
        f" || setweight(to_tsvector('{cfg}', summary), 'B')"
        for lang, cfg in configs
    )
    body = "description || ' ' || problem || ' ' || goals || ' ' || organisation"
    document = " ".join(
        f"WHEN '{lang}' THEN setweight(to_tsvector('{cfg}', title), 'A')"
        f" || setweight(to_tsvector('{cfg}', summary), 'B')"
        f" || setweight(to_tsvector('{cfg}', {body}), 'C')"
        for lang, cfg in configs
    )
    query = " || ".join(
        f"websearch_to_tsquery('{cfg}', :q)" for cfg in ("finnish", "swedish", "english")
    )
    rank = (
        f"ts_rank(CASE language {head} END, {query})" if filters.sort == "relevance" else "0::real"
    )
    key = "updated_at" if filters.sort == "updated" else "published_at"
    where = f"CASE language {document} END @@ ({query})"
    if filters.theme:
        where += " AND themes @> ARRAY[:theme]::varchar[]"
    if filters.stage:
        where += " AND stage = :stage"
    with runtime.db.transaction() as session:
        found = session.execute(
            text(f"SELECT id FROM experiments WHERE {where} ORDER BY {rank} DESC, {key} DESC, id"),
            {"q": filters.q, "theme": filters.theme, "stage": filters.stage},
        )
        return [r.id for r in found]


@pytest.mark.parametrize(
    "filters",
    [
        ExperimentFilters(q="kokeilu", sort="relevance"),  # one word: ranked by title first
        ExperimentFilters(q="kirjasto", sort="relevance", theme="employment"),
        ExperimentFilters(q="kokeiluja", sort="relevance"),  # stems differ per language
        ExperimentFilters(q="kokeilu kirjasto", sort="relevance"),
        ExperimentFilters(q="kokeilu or palvelu -kunta", sort="relevance", stage="running"),
        ExperimentFilters(q='"uusi kokeilu"', sort="relevance"),
        ExperimentFilters(q="försök", sort="relevance"),
        ExperimentFilters(q="kirjasto or palvelu", sort="relevance"),
        ExperimentFilters(q="kirjaston", sort="relevance", theme="digital-municipality"),
        ExperimentFilters(q="kunta", sort="newest"),
        ExperimentFilters(q="kunta", sort="updated", theme="digital-municipality"),
    ],
    ids=lambda f: f"{f.q}|{f.sort}|{f.theme or ''}{f.stage or ''}",
)
def test_every_page_is_ranked_as_ranking_every_match_would(
    runtime: Runtime, filters: ExperimentFilters
) -> None:
    seed(runtime)
    expected = ranked_by_hand(runtime, filters)
    assert len(expected) > 3
    for per_page in (4, 25):
        shown = []
        for page in itertools.count(1):
            with runtime.db.transaction() as session:
                rows, total = search_experiments(session, filters, page, per_page)
            assert total == len(expected)
            if not rows:
                break
            shown.extend(r.id for r in rows)
        assert shown == expected, per_page


def test_past_the_last_page_the_total_still_comes(
    api: Any, client: FlaskClient, people: Any
) -> None:
    owner = people["owner"]
    for n in range(3):
        api.published(owner, title=f"Kokeilu {n}", summary="Kokeilun tiivistelmä.")
    for query in ({"q": "kokeilu"}, {"q": "kokeilu tiivistelmä"}, {}):
        answer = client.get("/api/v1/experiments", query_string={**query, "page": 9})
        assert answer.json["items"] == [] and answer.json["total"] == 3, query


def test_the_words_are_parsed_once_for_every_configuration() -> None:
    assert TextQuery.of(["", "", ""]) is None  # only stop words
    one = TextQuery.of(["'kokeilu'", "'kokeilu'", "'kokeilu'"])
    assert one is not None and one.by_title and one.single
    assert one.match == "( 'kokeilu' )"
    assert one.rank == "( 'kokeilu' ) | ( 'kokeilu' ) | ( 'kokeilu' )"
    inflected = TextQuery.of(["'kokeilu'", "'kokeiluj'", "'kokeiluja'"])
    assert inflected is not None and inflected.by_title and not inflected.single
    assert inflected.any_word == "'kokeilu' | 'kokeiluj' | 'kokeiluja'"
    assert inflected.pairs == (
        "( 'kokeilu' & 'kokeiluj' ) | ( 'kokeilu' & 'kokeiluja' ) | ( 'kokeiluj' & 'kokeiluja' )"
    )
    either = TextQuery.of(["'kirjasto' | 'kunta'", "'kirjasto' | 'kunta'", ""])
    assert either is not None and either.by_title and either.match == "( 'kirjasto' | 'kunta' )"
    phrase = TextQuery.of(["'avoim' <-> 'ovet' & !'uimahall'", "", "'it''s'"])
    assert phrase is not None and not phrase.by_title
    assert phrase.match == "( 'avoim' <-> 'ovet' & !'uimahall' ) | ( 'it''s' )"
    assert phrase.any_word == "'avoim' | 'ovet' | 'uimahall' | 'it''s'"
    for words in (["!'kunta'"] * 3, ["'kunta' & 'talo'"] * 3):
        parsed = TextQuery.of(words)
        assert parsed is not None and not parsed.by_title


@pytest.mark.parametrize(
    "filters",
    [
        ExperimentFilters(q="kokeilu", sort="relevance"),
        ExperimentFilters(q="kokeiluja", sort="relevance", theme="employment"),
        ExperimentFilters(q="kunta", sort="newest", stage="running"),
        ExperimentFilters(theme="employment", stage="running"),
        ExperimentFilters(),
    ],
    ids=lambda f: f"{f.q}|{f.sort}|{f.theme or ''}{f.stage or ''}",
)
def test_the_wide_rows_are_read_only_for_the_page(
    runtime: Runtime, filters: ExperimentFilters
) -> None:
    """No sequential scan anywhere, and `experiments` only by primary key (the page's rows)."""
    seed(runtime)
    statements: list[tuple[str, Any]] = []
    with runtime.db.transaction() as session:
        connection = session.connection()

        def keep(conn: Any, cursor: Any, sql: str, params: Any, *_: Any) -> None:
            if "LIMIT" in sql:
                statements.append((sql, params))

        event.listen(connection, "before_cursor_execute", keep)
        search_experiments(session, filters)
        event.remove(connection, "before_cursor_execute", keep)
        assert statements
        for sql, params in statements:
            plan = "\n".join(
                r[0] for r in connection.exec_driver_sql("EXPLAIN " + sql, params).all()
            )
            assert "Seq Scan" not in plan, plan
            on_experiments = [line for line in plan.splitlines() if " on experiments " in line]
            assert all("using pk_experiments" in line for line in on_experiments), plan


@pytest.mark.parametrize(
    "filters",
    [
        ExperimentFilters(q="kunta", sort="newest"),
        ExperimentFilters(q="kokeilu", sort="updated"),
        ExperimentFilters(q="kunta", sort="updated", theme="digital-municipality"),
        ExperimentFilters(q="kokeilu", sort="relevance"),
        ExperimentFilters(q="kokeilu kirjasto", sort="relevance"),
    ],
    ids=lambda f: f"{f.q}|{f.sort}|{f.theme or ''}",
)
def test_many_matches_give_the_same_pages_and_an_estimated_total(
    runtime: Runtime, filters: ExperimentFilters
) -> None:
    """Above `exact_up_to` matches the total is the planner's estimate and a newest or updated
    page is looked for among the newest rows (growing the window when they hold too few): the
    pages are still those of sorting every match, and the total is exact on the last page and
    past it."""
    seed(runtime)
    with runtime.db.transaction() as session:
        session.execute(text("ANALYZE experiment_search, experiment_search_heads"))
    expected = ranked_by_hand(runtime, filters)
    assert len(expected) > 8
    per_page = 4
    shown, totals = [], []
    for page in itertools.count(1):
        with runtime.db.transaction() as session:
            rows, total = search_experiments(session, filters, page, per_page, exact_up_to=0)
        if not rows:
            assert total == len(expected)  # past the last page: counted
            break
        shown.extend(r.id for r in rows)
        totals.append(total)
    assert shown == expected
    if len(expected) % per_page:
        assert totals[-1] == len(expected)  # a page that is not full ends the matches
    full = totals[: len(expected) // per_page]
    assert len(set(full)) == 1 and full[0] > 0  # one estimate, whatever the page
