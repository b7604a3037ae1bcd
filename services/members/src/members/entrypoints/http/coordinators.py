"""Coordinators' member directory: search, CSV export, roles, deactivation."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response
from uskalla_kit import current_runtime
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import page_of

from members.entrypoints.http.requests import csv_response, services, wants_csv
from members.entrypoints.schemas import (
    MemberAdminPatchSchema,
    MemberAdminSchema,
    MemberListQuery,
    MemberPageSchema,
)
from members.service_layer import directory
from members.service_layer.access import acting_member
from members.service_layer.views import member_admin_view

bp = Blueprint("coordinators", __name__, url_prefix="/api/v1")

CSV_COLUMNS = [
    "id",
    "email",
    "name",
    "organisation",
    "municipality_code",
    "title",
    "language",
    "newsletter",
    "invitations",
    "role",
    "status",
    "undeliverable",
    "joined_at",
]


@bp.get("/members")
@documented(
    "Search members (q: name, e-mail, organisation, title); `Accept: text/csv` gives every "
    "match as CSV",
    query=MemberListQuery,
    responses={200: MemberPageSchema},
    auth="coordinator",
    tags=("coordinators",),
)
def list_members(query: dict[str, Any]) -> Response | dict[str, Any]:
    csv = wants_csv()
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        page = None if csv else query["page"]
        found, total = directory.search(session, query, page, query["per_page"])
        items = [member_admin_view(m) for m in found]
    if csv:
        return csv_response(CSV_COLUMNS, items, "members.csv")
    return page_of(items, query["page"], query["per_page"], total)


@bp.patch("/members/<uuid:member_id>")
@documented(
    "Change a member's role or (de)activate them",
    body=MemberAdminPatchSchema,
    responses={200: MemberAdminSchema},
    auth="coordinator",
    problems=(409,),
    tags=("coordinators",),
)
def update_member(member_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        actor = acting_member(session, "coordinator")
        member = services().membership.administer(session, actor, member_id, body)
        return member_admin_view(member)
