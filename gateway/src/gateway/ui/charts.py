"""Bar charts as server-side SVG: no script, no external service, readable by screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

BAR = 26
GAP = 8
LABEL_WIDTH = 210
CHART_WIDTH = 640


@dataclass
class Series:
    key: str
    title: str
    rows: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.rows)


def counts(value: Any, label_of: dict[str, str] | None = None) -> list[tuple[str, int]]:
    """Counts from the shapes a stats answer may use: {key: n}, or [{key|slug|...: k, count: n}]."""
    label_of = label_of or {}
    rows: list[tuple[str, int]] = []
    if isinstance(value, dict):
        rows = [(str(k), int(v)) for k, v in value.items() if isinstance(v, int | float)]
    elif isinstance(value, list):
        for entry in value:
            if not isinstance(entry, dict):
                continue
            key = next(
                (
                    entry[k]
                    for k in (
                        "key",
                        "slug",
                        "theme",
                        "stage",
                        "outcome",
                        "year",
                        "code",
                        "municipality_code",
                        "value",
                        "name",
                    )
                    if k in entry
                ),
                None,
            )
            count = entry.get("count", entry.get("n", 0))
            if key is not None and isinstance(count, int | float):
                rows.append((str(key), int(count)))
    return [(label_of.get(k, k), n) for k, n in rows]


def bar_chart(series: Series, chart_id: str) -> Markup:
    """A horizontal bar chart; the figure's table (in the template) carries the same numbers."""
    biggest = max((n for _, n in series.rows), default=0) or 1
    height = len(series.rows) * (BAR + GAP) + GAP
    room = CHART_WIDTH - LABEL_WIDTH - 60
    parts = [
        f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {max(height, BAR)}" role="img" '
        f'aria-labelledby="{chart_id}-title" focusable="false">',
        f'<title id="{chart_id}-title">{escape(series.title)}</title>',
    ]
    for i, (label, count) in enumerate(series.rows):
        y = GAP + i * (BAR + GAP)
        width = round(room * count / biggest) if count else 0
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR * 0.68:.1f}" text-anchor="end" '
            f'class="chart-label">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR}" class="chart-bar"/>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + BAR * 0.68:.1f}" '
            f'class="chart-value">{count}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
