"""Gateway-only endpoints: one member's data for the merged personal-data export, and whom
a sign-in link signs in (the gateway shows it before the link is spent: no login CSRF)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint
from uskalla_kit import current_runtime
from uskalla_kit.openapi import documented

from members.entrypoints.http.requests import services
from members.entrypoints.schemas import ExportSchema, SignInPreviewSchema, TokenSchema

bp = Blueprint("internal", __name__, url_prefix="/internal/v1")


@bp.get("/members/<uuid:member_id>/export")
@documented(
    "Everything members holds about one member (for the gateway's merged export)",
    responses={200: ExportSchema},
    auth="internal",
    tags=("internal",),
)
def export_member(member_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return services().personal_data.export(session, member_id)


@bp.post("/sign-in/preview")
@documented(
    "Whom a sign-in link's token signs in (unused, unexpired, an active member); the token "
    "is not spent and nothing is written",
    body=TokenSchema,
    responses={200: SignInPreviewSchema},
    auth="internal",
    problems=(404,),
    tags=("internal",),
)
def preview_sign_in(body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return services().sign_in.preview(session, body["token"])  # no-store: the kit's
