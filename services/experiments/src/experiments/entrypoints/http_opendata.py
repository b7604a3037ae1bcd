"""HTTP API: open data about published experiments: stats, the Atom feed and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, stream_with_context
from uskalla_kit import current_runtime
from uskalla_kit.openapi import documented

from experiments.entrypoints.atom import build_feed
from experiments.entrypoints.caller import services
from experiments.entrypoints.http_experiments import filters_from
from experiments.entrypoints.schemas import FilterQuery, StatsSchema

bp = Blueprint("opendata", __name__, url_prefix="/api/v1")
TAGS = ("open data",)
FEED_ENTRIES = 50


@bp.get("/experiments/stats")
@documented(
    "Counts of published experiments by theme, stage, outcome, municipality and start year",
    query=FilterQuery,
    responses={200: StatsSchema},
    tags=TAGS,
)
def stats(query: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return services().open_data.stats(session, filters_from(query))


@bp.get("/experiments/feed.atom")
@documented(
    "Atom feed of newly published experiments",
    responses={200: "Atom 1.0"},
    content_types={200: "application/atom+xml"},
    tags=TAGS,
)
def feed() -> Response:
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        document = build_feed(
            runtime.settings.public_base_url, services().open_data.newest(session, FEED_ENTRIES)
        )
    return Response(document, mimetype="application/atom+xml")


@bp.get("/experiments.csv")
@documented(
    "Open-data export of published experiments (the list's filters apply)",
    query=FilterQuery,
    responses={200: "CSV"},
    content_types={200: "text/csv"},
    tags=TAGS,
)
def export_csv(query: dict[str, Any]) -> Response:
    runtime = current_runtime()
    open_data = services().open_data
    filters = filters_from(query)

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        with runtime.db.transaction() as session:
            for n, row in enumerate(open_data.csv_rows(session, filters)):
                writer.writerow(row)
                if n % 200 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="experiments.csv"'},
    )
