"""What views share about requests and responses: CSV, the caller's services."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from uskalla_kit import current_runtime

from members.adapters.csv_export import to_csv
from members.service_layer import Services, services_of


def services() -> Services:
    return services_of(current_runtime())


def wants_csv() -> bool:
    """Whether the client asked for CSV (`Accept: text/csv`) rather than JSON."""
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def csv_response(columns: list[str], rows: list[dict[str, Any]], filename: str) -> Response:
    return Response(
        to_csv(columns, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
