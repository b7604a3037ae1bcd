"""The statistics page: experiments by theme, stage, outcome and start year, as SVG charts."""

from __future__ import annotations

from typing import Any

from gateway.ui import client, ui
from gateway.ui.charts import Series, bar_chart, counts
from gateway.ui.common import render, t
from gateway.ui.i18n import current_language
from gateway.ui.pages_experiments import OUTCOMES, STAGES, themes

DIMENSIONS = ("theme", "stage", "outcome", "start_year")


def _dimension(stats: dict[str, Any], name: str) -> Any:
    for key in (f"by_{name}", name, f"{name}s", f"by_{name}s"):
        if key in stats:
            return stats[key]
    return None


@ui.get("/statistics")
def statistics() -> tuple[str, int]:
    answer = client.get("/api/v1/experiments/stats")
    stats = answer.data if answer.ok and isinstance(answer.data, dict) else {}
    lang = current_language()
    labels: dict[str, dict[str, str]] = {
        "theme": {
            th["slug"]: th.get(f"name_{lang}") or th["slug"] for th in themes() if "slug" in th
        },
        "stage": {s: t(f"stage.{s}") for s in STAGES},
        "outcome": {o: t(f"outcome.{o}") for o in OUTCOMES},
        "start_year": {},
    }
    charts = []
    for name in DIMENSIONS:
        rows = counts(_dimension(stats, name), labels[name])
        if name == "start_year":
            rows.sort()
        series = Series(name, t(f"stats.{name}"), rows)
        charts.append((series, bar_chart(series, f"chart-{name}")))
    return render("stats.html", charts=charts, failed=not answer.ok, total=stats.get("total"))
