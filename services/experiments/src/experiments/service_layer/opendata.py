"""Open data about published experiments: counts, the newest for the feed, rows for CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Integer, extract, func, select
from sqlalchemy.orm import Session
from uskalla_kit.text import printable

from experiments.adapters.models import Experiment, Theme
from experiments.adapters.search import ExperimentFilters, all_matching, published_matching
from experiments.domain.vocabulary import OUTCOMES, STAGES
from experiments.service_layer.views import iso

CSV_COLUMNS = (
    "id",
    "url",
    "title",
    "summary",
    "kind",
    "scale",
    "stage",
    "language",
    "themes",
    "municipality_codes",
    "organisation",
    "problem",
    "goals",
    "starts_on",
    "ends_on",
    "outcome",
    "rating",
    "what_worked",
    "what_failed",
    "lessons",
    "next_steps",
    "links",
    "published_at",
    "updated_at",
)


class OpenData:
    """What anyone may take of the published experiments, with links under `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def stats(self, session: Session, filters: ExperimentFilters) -> dict[str, Any]:
        """Counts of published experiments (matching the filters) by each dimension.

        Every theme, stage and outcome is listed, with 0 where none; municipalities and start
        years only where there is at least one. A failed experiment counts like any other."""
        where = published_matching(filters)

        def grouped(key: Any) -> dict[str, int]:
            rows = session.execute(
                select(key.label("key"), func.count()).where(*where).group_by("key").order_by("key")
            ).all()
            return {str(k): int(n) for k, n in rows if k is not None}

        total = session.scalar(select(func.count()).select_from(Experiment).where(*where)) or 0
        themes = session.scalars(select(Theme.slug).order_by(Theme.position)).all()
        by_theme = grouped(func.unnest(Experiment.themes))
        by_stage = grouped(Experiment.stage)
        by_outcome = grouped(Experiment.outcome)
        years = grouped(func.cast(extract("year", Experiment.starts_on), Integer))
        return {
            "total": int(total),
            "by_theme": {t: by_theme.get(t, 0) for t in themes},
            "by_stage": {s: by_stage.get(s, 0) for s in STAGES},
            "by_outcome": {o: by_outcome.get(o, 0) for o in OUTCOMES},
            "by_municipality": grouped(func.unnest(Experiment.municipality_codes)),
            "by_start_year": years,
        }

    def newest(self, session: Session, limit: int) -> list[Experiment]:
        """The most recently published experiments, for the Atom feed."""
        return list(
            session.scalars(
                select(Experiment)
                .where(Experiment.published_at.is_not(None))
                .order_by(Experiment.published_at.desc(), Experiment.id)
                .limit(limit)
            )
        )

    def csv_rows(self, session: Session, filters: ExperimentFilters) -> Iterator[list[str]]:
        """The export's rows (header first), streamed from the database in batches."""
        yield list(CSV_COLUMNS)
        result = session.scalars(all_matching(filters).execution_options(yield_per=500))
        for e in result:
            values: dict[str, Any] = {
                "id": str(e.id),
                "url": f"{self.base_url}/experiments/{e.id}",
                "themes": ";".join(e.themes),
                "municipality_codes": ";".join(e.municipality_codes),
                "links": " ".join(e.links),
                "starts_on": iso(e.starts_on),
                "ends_on": iso(e.ends_on),
                "published_at": iso(e.published_at),
                "updated_at": iso(e.updated_at),
            }
            yield [_cell(values[c] if c in values else getattr(e, c)) for c in CSV_COLUMNS]


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is prefixed with a quote.
    Control characters stored before the rule refusing them are left out."""
    text = "" if value is None else printable(str(value))
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
