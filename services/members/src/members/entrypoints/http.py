"""The members HTTP API (joining and confirming; more resources register their own blueprints)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from uskalla_kit import current_runtime, json_body
from uskalla_kit.openapi import documented

from members.domain.municipalities import municipalities
from members.entrypoints.schemas import (
    JoinSchema,
    MemberSchema,
    MunicipalityListSchema,
    StatusSchema,
    TokenSchema,
)
from members.service import member_view, service_of

bp = Blueprint("members", __name__, url_prefix="/api/v1")


@bp.post("/members")
@documented(
    "Join the network (double opt-in)",
    body=JoinSchema,
    responses={202: StatusSchema},
    tags=("members",),
)
def join() -> tuple[Response, int]:
    data = JoinSchema().load(json_body())
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        service_of(runtime).join(session, data)
    return jsonify(status="confirmation_sent"), 202


@bp.post("/members/confirm")
@documented(
    "Confirm joining with the e-mailed token",
    body=TokenSchema,
    responses={200: MemberSchema},
    tags=("members",),
)
def confirm() -> Response:
    data = TokenSchema().load(json_body())
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        member = service_of(runtime).confirm(session, data["token"])
        view = member_view(member)
    return jsonify(view)


@bp.get("/municipalities")
@documented("Finnish municipalities", responses={200: MunicipalityListSchema}, tags=("network",))
def list_municipalities() -> Response:
    return jsonify(
        items=[
            {
                "code": m.code,
                "name_fi": m.name_fi,
                "name_sv": m.name_sv,
                "region_code": m.region_code,
                "region_fi": m.region_fi,
                "region_sv": m.region_sv,
            }
            for m in municipalities().values()
        ]
    )
