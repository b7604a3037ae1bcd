"""Joining, confirming, one's own profile and data, unsubscribing, municipalities."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, validate
from uskalla_kit import current_runtime, json_body
from uskalla_kit.fields import Text
from uskalla_kit.openapi import documented
from uskalla_reference.municipalities import municipalities

from members.entrypoints.http.requests import services
from members.entrypoints.schemas import (
    ExportSchema,
    JoinSchema,
    MemberSchema,
    MunicipalityListSchema,
    ProfilePatchSchema,
    StatusSchema,
    TokenSchema,
    UnsubscribedSchema,
    UnsubscribeSchema,
)
from members.service_layer.access import acting_member
from members.service_layer.views import member_view

bp = Blueprint("members", __name__, url_prefix="/api/v1")


@bp.post("/members")
@documented(
    "Join the network (double opt-in); the same answer whether or not the address is known",
    body=JoinSchema,
    responses={202: StatusSchema},
    tags=("members",),
)
def join() -> tuple[Response, int]:
    data = JoinSchema().load(json_body())
    with current_runtime().db.transaction() as session:
        services().intake.accept(session, "join", data)
    return jsonify(status="confirmation_sent"), 202


@bp.post("/members/confirm")
@documented(
    "Confirm joining with the e-mailed token",
    body=TokenSchema,
    responses={200: MemberSchema},
    problems=(400,),
    tags=("members",),
)
def confirm() -> Response:
    data = TokenSchema().load(json_body())
    with current_runtime().db.transaction() as session:
        member = services().membership.confirm(session, data["token"])
        view = member_view(member)
    return jsonify(view)


@bp.get("/members/me")
@documented(
    "Your own profile",
    responses={200: MemberSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def me() -> Response:
    with current_runtime().db.transaction() as session:
        view = member_view(acting_member(session))
    return jsonify(view)


@bp.patch("/members/me")
@documented(
    "Change your profile and subscriptions",
    body=ProfilePatchSchema,
    responses={200: MemberSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def update_me() -> Response:
    changes = ProfilePatchSchema().load(json_body())
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="update")
        services().membership.update_profile(session, member, changes)
        view = member_view(member)
    return jsonify(view)


@bp.get("/members/me/export")
@documented(
    "Everything the members service holds about you",
    responses={200: ExportSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def export_me() -> Response:
    with current_runtime().db.transaction() as session:
        member = acting_member(session)
        document = services().personal_data.export(session, member.id)
    return jsonify(document)


@bp.delete("/members/me")
@documented(
    "Erase yourself: your data here goes now, the other services follow",
    responses={202: StatusSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def erase_me() -> tuple[Response, int]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="update")
        services().personal_data.erase(session, member)
    return jsonify(status="erased"), 202


class UnsubscribeQuery(Schema):
    token = Text(validate=validate.Length(min=1, max=1000))


@bp.post("/unsubscribe")
@documented(
    "One-click unsubscribe (RFC 8058): the signed token from the List-Unsubscribe URL, "
    "as a query or form field (or a JSON body {token})",
    query=UnsubscribeQuery,
    responses={200: UnsubscribedSchema},
    problems=(400,),
    tags=("members",),
)
def unsubscribe() -> Response:
    data = UnsubscribeSchema().load(unsubscribe_fields())
    with current_runtime().db.transaction() as session:
        mailing_list = services().membership.unsubscribe(session, data["token"])
    return jsonify(status="unsubscribed", list=mailing_list)


def unsubscribe_fields() -> dict[str, Any]:
    """The token wherever the client put it: mail programs post a form to the query's URL."""
    if "token" in request.args:
        return {"token": request.args["token"]}
    if request.is_json:
        return json_body()
    if "token" in request.form:
        return {"token": request.form["token"]}
    return {}


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
