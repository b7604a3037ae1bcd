"""Gateway-only endpoints: one member's data for the merged personal-data export."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify
from uskalla_kit import current_runtime
from uskalla_kit.internal import internal_only
from uskalla_kit.openapi import documented

from members.entrypoints.http.requests import services
from members.entrypoints.schemas import ExportSchema

bp = Blueprint("internal", __name__, url_prefix="/internal/v1")


@bp.get("/members/<uuid:member_id>/export")
@documented(
    "Everything members holds about one member (for the gateway's merged export)",
    responses={200: ExportSchema},
    auth="internal",
    tags=("internal",),
)
@internal_only
def export_member(member_id: uuid.UUID) -> Response:
    with current_runtime().db.transaction() as session:
        document = services().personal_data.export(session, member_id)
    return jsonify(document)
