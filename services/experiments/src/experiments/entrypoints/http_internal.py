"""Internal API for the gateway: one member's data held here, for the merged export."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint
from uskalla_kit import current_runtime
from uskalla_kit.openapi import documented

from experiments.entrypoints.caller import services
from experiments.entrypoints.export_schemas import MemberExportSchema

bp = Blueprint("internal", __name__, url_prefix="/internal/v1")


@bp.get("/members/<uuid:member_id>/export")
@documented(
    "Everything the experiments service holds about a member (gateway only)",
    responses={200: MemberExportSchema},
    auth="internal",
    tags=("internal",),
)
def member_export(member_id: uuid.UUID) -> dict[str, Any]:
    # Personal data: the kit marks every answer to an X-Internal-Token call no-store.
    with current_runtime().db.transaction() as session:
        return services().authors.export(session, member_id)
