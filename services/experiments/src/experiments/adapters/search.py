"""The registry's list query: published experiments, filtered, full-text searched and ranked.

This function is what `GET /api/v1/experiments` and the CSV export run, and what
bench/bench_search.py measures. Each document is indexed in its own language's configuration
(see models.SEARCH_DOCUMENT), so the query is parsed in each of them and OR-ed: a Finnish
query word is stemmed as Finnish for Finnish documents, as Swedish for Swedish ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, literal_column, select, text
from sqlalchemy.orm import Session

from experiments.adapters.models import Experiment
from experiments.domain.vocabulary import SEARCH_CONFIGS

#: The columns a list item shows (never the long texts, and never the tsvector itself).
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


def conditions(filters: ExperimentFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Experiment.published_at.is_not(None)]
    if filters.q:
        where.append(Experiment.search.op("@@")(text_query(filters.q)))
    if filters.theme:
        where.append(Experiment.themes.contains([filters.theme]))
    if filters.municipality_code:
        where.append(Experiment.municipality_codes.contains([filters.municipality_code]))
    for column, value in (
        (Experiment.stage, filters.stage),
        (Experiment.kind, filters.kind),
        (Experiment.scale, filters.scale),
        (Experiment.outcome, filters.outcome),
        (Experiment.language, filters.language),
    ):
        if value:
            where.append(column == value)
    return where


def ordered(statement: Select[Any], filters: ExperimentFilters) -> Select[Any]:
    if filters.sort == "relevance" and filters.q:
        # Ranked on title (A) and summary (B), kept in the row; matches only in the body or
        # the evaluation (C, D) rank 0 and follow, newest first.
        rank = func.ts_rank(Experiment.search_head, text_query(filters.q))
        return statement.order_by(rank.desc(), Experiment.published_at.desc(), Experiment.id)
    if filters.sort == "updated":
        return statement.order_by(Experiment.updated_at.desc(), Experiment.id)
    return statement.order_by(Experiment.published_at.desc(), Experiment.id)


def search_experiments(
    session: Session, filters: ExperimentFilters, page: int = 1, per_page: int = 20
) -> tuple[Sequence[Row[Any]], int]:
    """One page of matching published experiments (summary columns) and the total count."""
    # A short interactive query: compiling it (JIT) costs more than it could ever save.
    session.execute(text("SET LOCAL jit = off"))
    where = conditions(filters)
    relevance = filters.sort == "relevance" and bool(filters.q)
    columns: list[Any] = list(SUMMARY_COLUMNS)
    if relevance:
        # Ranked on title (A) and summary (B), kept in the row; matches only in the body or
        # the evaluation (C, D) rank 0 and follow, newest first.
        columns.append(
            func.ts_rank(Experiment.search_head, text_query(filters.q or "")).label("rank")
        )
    # The matches are found first (bitmap scans of the GIN and b-tree indexes), then sorted:
    # otherwise the planner walks the published_at index backwards testing every row's large
    # search document, which is far slower than its estimate.
    matches = select(*columns).where(*where).cte("matches").prefix_with("MATERIALIZED")
    order: list[Any] = []
    if relevance:
        order.append(matches.c.rank.desc())
    order.append(
        matches.c.updated_at.desc() if filters.sort == "updated" else matches.c.published_at.desc()
    )
    order.append(matches.c.id)
    page_columns: list[Any] = [matches.c[c.key] for c in SUMMARY_COLUMNS]
    statement: Select[Any] = (
        select(*page_columns, func.count().over().label("total"))
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows: Sequence[Row[Any]] = session.execute(statement).all()
    if rows:
        return rows, int(rows[0].total)
    if page == 1:
        return rows, 0
    # Past the last page: the window count came back with no row, so count separately.
    total = session.scalar(select(func.count()).select_from(Experiment).where(*where)) or 0
    return rows, int(total)


def all_matching(filters: ExperimentFilters) -> Select[Any]:
    """Every matching experiment (full rows), in the filters' order: for exports."""
    return ordered(select(Experiment).where(*conditions(filters)), filters)
