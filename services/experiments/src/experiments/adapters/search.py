"""The registry's list query: published experiments, filtered, full-text searched and ranked.

This function is what `GET /api/v1/experiments` runs, and what bench/bench_search.py measures;
the stats and the CSV export use the same conditions. Each document is indexed in its own
language's configuration, so the query is parsed in each of them and OR-ed: a Finnish query word
is stemmed as Finnish for Finnish documents, as Swedish for Swedish ones.

Everything is read from the narrow side tables of migration 0005 (`experiment_search`,
`experiment_search_heads`); the wide `experiments` rows are read only for the page shown.

A word found in a large share of the registry (`kunta`, `kokeilu`) matches tens of thousands of
rows. Then counting them all costs more than the page: the total is the planner's estimate
(exact up to EXACT_TOTAL_UP_TO matches, on a page that is not full and past the last page), and a
page in newest or updated order is found among the newest rows only (see `_window`).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from experiments.adapters.models import (
    TITLE_WEIGHTS,
    Experiment,
    ExperimentSearch,
    ExperimentSearchHead,
)
from experiments.domain.vocabulary import SEARCH_CONFIGS

#: The columns a list item shows (never the long texts).
SUMMARY_COLUMNS = (
    Experiment.id,
    Experiment.title,
    Experiment.summary,
    Experiment.kind,
    Experiment.scale,
    Experiment.themes,
    Experiment.municipality_codes,
    Experiment.organisation,
    Experiment.language,
    Experiment.stage,
    Experiment.outcome,
    Experiment.rating,
    Experiment.starts_on,
    Experiment.ends_on,
    Experiment.published_at,
    Experiment.updated_at,
)

#: A lexeme in PostgreSQL's text form of a tsquery: quoted, a quote inside doubled.
_LEXEME = re.compile(r"'(?:[^']|'')*'")

#: The most rows a newest or updated page is looked for among (each one's words are tested).
WINDOW_LIMIT = 5000
#: How many rows experiment_search holds, as the planner last counted them (ANALYZE).
_RELTUPLES = text("(SELECT reltuples FROM pg_class WHERE oid = 'experiment_search'::regclass)")

#: Up to this many matches (as the planner estimates them) the total is counted exactly; above,
#: counting would cost more than finding the page, and the estimate is the total.
EXACT_TOTAL_UP_TO = 5000


@dataclass(frozen=True)
class ExperimentFilters:
    q: str | None = None
    theme: str | None = None
    municipality_code: str | None = None
    stage: str | None = None
    kind: str | None = None
    scale: str | None = None
    outcome: str | None = None
    language: str | None = None
    #: newest (published_at), updated (updated_at) or relevance (ts_rank of title and summary;
    #: newest without q)
    sort: str = "newest"


@dataclass(frozen=True)
class TextQuery:
    """The user's words as tsqueries (PostgreSQL's text form), made once per search."""

    #: Every configuration's query OR-ed, duplicates dropped: decides what matches.
    match: str
    #: Every configuration's query OR-ed as before (what ts_rank has always been given).
    rank: str
    #: Any lexeme of the query: a title or summary without one ranks 0.
    any_word: str
    #: When the query is one word (stemmed in each configuration: `kokeiluja` gives
    #: 'kokeilu', 'kokeiluj', 'kokeiluja') or words joined by `or`: the query that finds a
    #: title or summary holding two of its lexemes ("( 'a' & 'b' ) | ...", empty for one).
    pairs: str | None = None
    #: One lexeme in all.
    single: bool = False

    @classmethod
    def of(cls, parsed: Sequence[str]) -> TextQuery | None:
        """From each configuration's websearch_to_tsquery text; None when no word is left."""
        parts = [p for p in parsed if p]
        if not parts:
            return None
        unique = list(dict.fromkeys(parts))
        lexemes = list(dict.fromkeys(_LEXEME.findall(" ".join(parts))))
        alternatives = [a.strip() for p in unique for a in p.split(" | ")]
        only_words = all(_LEXEME.fullmatch(a) for a in alternatives)
        pairs = " | ".join(f"( {a} & {b} )" for a, b in itertools.combinations(lexemes, 2))
        return cls(
            match=" | ".join(f"( {p} )" for p in unique),
            rank=" | ".join(f"( {p} )" for p in parts),
            any_word=" | ".join(lexemes),
            pairs=pairs if only_words else None,
            single=only_words and len(lexemes) == 1,
        )

    @property
    def by_title(self) -> bool:
        """Whether a match with a query word in its title may outrank all without (see
        search_experiments): the query is words joined by `or`, nothing else."""
        return self.pairs is not None


def text_query(q: str) -> ColumnElement[Any]:
    """The user's words (web-search syntax: "phrase", or, -not) in every document language."""
    # The configuration names come from a fixed table, never from the request.
    parsed = [
        func.websearch_to_tsquery(literal_column(f"'{cfg}'::regconfig"), q)
        for cfg in SEARCH_CONFIGS.values()
    ]
    combined: ColumnElement[Any] = parsed[0]
    for part in parsed[1:]:
        combined = combined.op("||")(part)
    return combined


#: The filters, in the order their conditions are written.
FILTERS = ("theme", "municipality_code", "stage", "kind", "scale", "outcome", "language")


def filter_values(filters: ExperimentFilters) -> dict[str, Any]:
    """The filters given, as the bound parameters of their conditions."""
    values: dict[str, Any] = {}
    for name in FILTERS:
        value = getattr(filters, name)
        if value:
            values[name] = [value] if name in ("theme", "municipality_code") else value
    return values


def _conditions(
    names: Sequence[str], match: ColumnElement[Any] | None, values: dict[str, Any] | None = None
) -> list[ColumnElement[bool]]:
    """Conditions on experiment_search: the filters' values bound now, or at execution."""
    s = ExperimentSearch

    def bound(name: str, column: Any) -> Any:
        if values is None:
            return bindparam(name, type_=column.type)
        return bindparam(name, values[name], type_=column.type, unique=True)

    where: list[ColumnElement[bool]] = []
    if match is not None:
        where.append(s.document.op("@@")(match))
    for name in names:
        if name == "theme":
            where.append(s.themes.contains(bound(name, s.themes)))
        elif name == "municipality_code":
            codes = s.municipality_codes
            where.append(codes.contains(bound(name, codes)))
        else:
            column = getattr(s, name)
            where.append(column == bound(name, column))
    return where


def conditions(filters: ExperimentFilters) -> list[ColumnElement[bool]]:
    """Conditions on experiment_search (published experiments only, by construction)."""
    values = filter_values(filters)
    match = text_query(filters.q) if filters.q else None
    return _conditions(list(values), match, values)


def published_matching(filters: ExperimentFilters) -> list[ColumnElement[bool]]:
    """The same conditions on `experiments` rows (for counts by its other columns)."""
    where = conditions(filters)
    if not where:
        return [Experiment.published_at.is_not(None)]
    return [Experiment.id.in_(select(ExperimentSearch.experiment_id).where(*where))]


def prepare(session: Session, q: str | None) -> TextQuery | None:
    """Settings for this transaction's search, and the words parsed in every configuration.

    One round trip. JIT compiling costs more than a short query could save; a plan made for
    the actual words (never a generic one cached for "some tsquery") is what keeps a query
    for a common word on the bitmap scans.
    """
    settings = [
        func.set_config("jit", "off", True),
        func.set_config("plan_cache_mode", "force_custom_plan", True),
        # The documents are stored out of line: a sequential scan testing each would read
        # every one back (half a second for a word found everywhere), a bitmap scan none.
        func.set_config("enable_seqscan", "off", True),
        # A word found nearly everywhere collects ~100,000 (id, key, rank): kept in memory.
        func.set_config("work_mem", "16MB", True),
    ]
    if not q:
        session.execute(select(*settings))
        return None
    words = [
        cast(func.websearch_to_tsquery(literal_column(f"'{cfg}'::regconfig"), q), Text)
        for cfg in SEARCH_CONFIGS.values()
    ]
    parsed = session.execute(select(*settings, *words)).one()[len(settings) :]
    return TextQuery.of([str(p) for p in parsed])


def search_experiments(
    session: Session,
    filters: ExperimentFilters,
    page: int = 1,
    per_page: int = 20,
    *,
    exact_up_to: int = EXACT_TOTAL_UP_TO,
) -> tuple[Sequence[Row[Any]], int]:
    """One page of matching published experiments (summary columns) and the total count.

    With words, the matches (id, sort key, rank) are collected once from the side table's GIN
    index and both counted and sorted; only the page's rows are read from `experiments`.
    Relevance is ts_rank over title and summary: it is computed only for matches whose title or
    summary holds a query word (found by the heads' GIN index), as every other match ranks 0
    and follows newest first.

    A one-word query (`kokeilu`, or `kokeiluja` with its three stems; also words joined by
    `or`) is ranked among the matches with a query word in their title first. Each of those
    ranks at least 0.61/n (n query lexemes; one title occurrence alone gives 1/1.645), and a
    match without one at most 0.4/n, as long as no title or summary holds two of the lexemes
    (checked in the same query). So when they fill the page, the page is theirs and only they
    are ranked, the total being a plain count. Otherwise, and with filters (fewer matches,
    which the query above handles well), the query above runs.

    When the words match more than `exact_up_to` rows (the planner's estimate, from the
    words' statistics), the total is that estimate, and a newest or updated page is found
    among the newest rows of the sort key's index only (`_window`). The total is exact
    whenever it is at most `exact_up_to`, on a page that is not full, and past the last page.
    """
    words = prepare(session, filters.q)
    if filters.q and words is None:
        return [], 0  # only stop words: nothing can match
    values = filter_values(filters)
    names, updated = tuple(values), filters.sort == "updated"
    offset = (page - 1) * per_page
    params: dict[str, Any] = {**values, "limit": per_page, "offset": offset}
    if words is not None:
        params |= {"match": words.match, "rank": words.rank, "any_word": words.any_word}
    estimate = _estimate(session, names, params) if words is not None else 0
    estimated = estimate > exact_up_to
    relevance = words is not None and filters.sort == "relevance"
    if estimated and not relevance:
        rows, total = _window(session, names, updated, params, estimate)
        return rows, _total(total, offset, rows, per_page, estimate)
    if relevance and words is not None and words.by_title and not names:
        titled_page: Select[Any] = _titled_page(updated, words.single, not estimated)
        rows = session.execute(titled_page, {**params, "pairs": words.pairs}).all()
        total = estimate if estimated else int(rows[0].total)
        titled = int(rows[0].titled)
        pairs = not words.single and bool(rows[0].pairs)
        if (titled == total and not estimated) or (titled >= offset + per_page and not pairs):
            return [r for r in rows if r.id is not None], total
    statement = _page(names, words is not None, relevance, updated)
    rows = session.execute(statement, params).all()
    shown, counted = [r for r in rows if r.id is not None], int(rows[0].total)
    return shown, _total(counted, offset, shown, per_page, estimate) if estimated else counted


def _estimate(session: Session, names: tuple[str, ...], params: dict[str, Any]) -> int:
    """How many published experiments the planner expects the words and filters to match."""
    sql, keys = _estimate_sql(names, session.get_bind().dialect)
    plan = session.connection().exec_driver_sql(sql, {key: params[key] for key in keys})
    document = plan.scalar_one()
    found = json.loads(document) if isinstance(document, str) else document
    return int(found[0]["Plan"]["Plan Rows"])


@functools.lru_cache(maxsize=256)
def _estimate_sql(names: tuple[str, ...], dialect: Any) -> tuple[str, tuple[str, ...]]:
    """EXPLAIN of the matches' conditions in the driver's own form, and its parameters."""
    s = ExperimentSearch
    conditions = _conditions(names, _tsquery("match"))
    compiled = (
        select(literal_column("1")).select_from(s).where(*conditions).compile(dialect=dialect)
    )
    return "EXPLAIN (FORMAT JSON) " + str(compiled), tuple(compiled.params)


def _total(
    counted: int | None, offset: int, rows: Sequence[Row[Any]], per_page: int, estimate: int
) -> int:
    """The estimate on a full page, whatever the page (so it does not change as one pages on);
    the exact count where the page ends the matches: not full, or past the last one."""
    if 0 < len(rows) < per_page:
        return offset + len(rows)
    if not rows and counted is not None:
        return counted
    return estimate


def _window(
    session: Session, names: tuple[str, ...], updated: bool, params: dict[str, Any], estimate: int
) -> tuple[Sequence[Row[Any]], int | None]:
    """A newest or updated page of many matches, found among the newest rows only.

    The page is the first offset + limit matches in the sort key's order. The rows newer than
    a cutoff are taken from the sort key's index (enough of them, at the matches' estimated
    share, to hold that many matches half again over); the matches among them are sorted,
    and if they are enough, the page is theirs: every older row sorts after them. If not (the
    estimate was high), the window grows fourfold. A window of more than WINDOW_LIMIT rows
    (a deep page of a less common word) would test more documents than the matches' bitmap
    holds: then every match is collected and counted. Returns the page, and the exact count
    when every match was counted.
    """
    s = ExperimentSearch
    key = s.updated_at if updated else s.published_at
    wanted = params["offset"] + params["limit"]
    published = session.scalar(select(func.greatest(_RELTUPLES, 1)))
    share = min(max(estimate, 1) / max(float(published or 1), 1.0), 1.0)
    window = math.ceil(wanted / share * 1.5) + params["limit"]
    while window <= WINDOW_LIMIT:
        cutoff = session.scalar(select(key).order_by(key.desc()).offset(window - 1).limit(1))
        if cutoff is None:
            break  # the window is the whole table
        statement: Select[Any] = _page(names, True, False, updated, True)
        rows = session.execute(statement, {**params, "cutoff": cutoff}).all()
        if int(rows[0].total) >= wanted:
            return [r for r in rows if r.id is not None], None
        window *= 4
    rows = session.execute(_page(names, True, False, updated), params).all()
    return [r for r in rows if r.id is not None], int(rows[0].total)


def _tsquery(name: str) -> ColumnElement[Any]:
    return cast(bindparam(name, type_=Text), TSQUERY)


@functools.lru_cache(maxsize=256)
def _page(
    names: tuple[str, ...], words: bool, relevance: bool, updated: bool, windowed: bool = False
) -> Select[Any]:
    """The page query for one combination of filters and order, built once (bound values);
    `windowed`: among the rows whose sort key is at least `cutoff` only."""
    s = ExperimentSearch
    key = s.updated_at if updated else s.published_at
    columns: list[Any] = [s.experiment_id, key.label("sort_key")]
    source: Any = s
    if relevance:
        h = ExperimentSearchHead
        rank = func.ts_rank(h.head, _tsquery("rank"))
        columns.append(func.coalesce(rank, 0).label("rank"))
        source = s.__table__.outerjoin(
            h, (h.experiment_id == s.experiment_id) & h.head.op("@@")(_tsquery("any_word"))
        )
    match = _tsquery("match") if words else None
    found = select(*columns).select_from(source).where(*_conditions(names, match))
    if windowed:
        found = found.where(key >= bindparam("cutoff", type_=key.type))
    # With words the matches are collected once (bitmap scans), then counted and sorted. A
    # plain list is inlined twice instead: counted from an index, its page read in the sort
    # key's order, stopping at the page size.
    matches = found.cte("matches").prefix_with("MATERIALIZED" if words else "NOT MATERIALIZED")
    counted = select(func.count().label("total")).select_from(matches).subquery("counted")
    return _paged(matches, counted)


@functools.lru_cache(maxsize=8)
def _titled_page(updated: bool, single: bool, count_all: bool = True) -> Select[Any]:
    """The page among the matches with a query word in their title, and the counts (all the
    matches only with `count_all`: without, the total column is null)."""
    s, h = ExperimentSearch, ExperimentSearchHead
    key = h.updated_at if updated else h.published_at
    rank = func.ts_rank(h.head, _tsquery("rank"))
    title_words = func.ts_filter(h.head, literal_column(TITLE_WEIGHTS))
    in_title = title_words.op("@@")(_tsquery("any_word"))  # a word in the title is a match
    titled = select(h.experiment_id, key.label("sort_key"), rank.label("rank")).where(in_title)
    matches = titled.cte("titled").prefix_with("MATERIALIZED")
    everything = select(func.count()).select_from(s).where(s.document.op("@@")(_tsquery("match")))
    counts = [
        (everything.scalar_subquery() if count_all else null()).label("total"),
        select(func.count()).select_from(matches).scalar_subquery().label("titled"),
    ]
    if not single:
        two = select(h.experiment_id).where(h.head.op("@@")(_tsquery("pairs"))).exists()
        counts.append(two.label("pairs"))
    counted = select(*counts).subquery("counted")
    return _paged(matches, counted, *[c for c in counted.c if c.key != "total"])


def _paged(matches: Any, counted: Any, *extra: Any) -> Select[Any]:
    """Rows of `matches` (id, sort_key and any rank) in order, one page of them with their
    summary columns from `experiments`, beside the counts: one row even past the last page
    (the page's columns null), so the counts always come."""

    def order(rows: Any, key: str) -> list[Any]:
        first = [rows.c.rank.desc()] if "rank" in rows.c else []
        return [*first, rows.c.sort_key.desc(), rows.c[key]]

    top = (
        select(matches)
        .order_by(*order(matches, "experiment_id"))
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("top")
    )
    shown = (
        select(*SUMMARY_COLUMNS, *(c for c in top.c if c.key in ("rank", "sort_key")))
        .join_from(top, Experiment, Experiment.id == top.c.experiment_id)
        .subquery("shown")
    )
    return (
        select(counted.c.total, *extra, *[shown.c[c.key] for c in SUMMARY_COLUMNS])
        .select_from(counted)
        .outerjoin(shown, true())
        .order_by(*order(shown, "id"))
    )


def all_matching(filters: ExperimentFilters) -> Select[Any]:
    """Every matching experiment (full rows), in the filters' order: for exports."""
    s, h = ExperimentSearch, ExperimentSearchHead
    statement = select(Experiment).join(s, s.experiment_id == Experiment.id)
    statement = statement.where(*conditions(filters))
    if filters.sort == "relevance" and filters.q:
        statement = statement.join(h, h.experiment_id == Experiment.id)
        rank = func.ts_rank(h.head, text_query(filters.q))
        return statement.order_by(rank.desc(), Experiment.published_at.desc(), Experiment.id)
    if filters.sort == "updated":
        return statement.order_by(Experiment.updated_at.desc(), Experiment.id)
    return statement.order_by(Experiment.published_at.desc(), Experiment.id)
