"""Internal API for the gateway: one member's data held here, for the merged export."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify
from uskalla_kit import current_runtime
from uskalla_kit.internal import internal_only
from uskalla_kit.openapi import documented

from experiments.entrypoints.caller import services

bp = Blueprint("internal", __name__, url_prefix="/internal/v1")


@bp.get("/members/<uuid:member_id>/export")
@documented(
    "Everything the experiments service holds about a member (gateway only)",
    auth="internal",
    tags=("internal",),
)
@internal_only
def member_export(member_id: uuid.UUID) -> Response:
    with current_runtime().db.transaction() as session:
        body = services().authors.export(session, member_id)
    # Personal data: the kit marks every answer to an X-Internal-Token call no-store.
    return jsonify(body)
