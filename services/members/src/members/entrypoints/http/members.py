"""Joining, confirming, one's own profile, interests, registrations and data, unsubscribing,
municipalities."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from uskalla_kit import current_runtime
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import PageQuery
from uskalla_reference.municipalities import municipalities

from members.entrypoints.http.requests import services
from members.entrypoints.schemas import (
    ExportSchema,
    InterestsSchema,
    JoinSchema,
    MemberSchema,
    MunicipalityListSchema,
    MyRegistrationPageSchema,
    ProfilePatchSchema,
    StatusSchema,
    TokenSchema,
    UnsubscribedSchema,
    UnsubscribeQuery,
)
from members.service_layer.access import acting_member
from members.service_layer.interests import interests_view
from members.service_layer.my_registrations import my_registrations
from members.service_layer.views import member_view

bp = Blueprint("members", __name__, url_prefix="/api/v1")


@bp.post("/members")
@documented(
    "Join the network (double opt-in); the same answer whether or not the address is known",
    body=JoinSchema,
    responses={202: StatusSchema},
    tags=("members",),
)
def join(body: dict[str, Any]) -> tuple[dict[str, str], int]:
    with current_runtime().db.transaction() as session:
        services().intake.accept(session, "join", body)
    return {"status": "confirmation_sent"}, 202


@bp.post("/members/confirm")
@documented(
    "Confirm joining with the e-mailed token",
    body=TokenSchema,
    responses={200: MemberSchema},
    problems=(400,),
    tags=("members",),
)
def confirm(body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return member_view(services().membership.confirm(session, body["token"]))


@bp.get("/members/me")
@documented(
    "Your own profile",
    responses={200: MemberSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def me() -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return member_view(acting_member(session))


@bp.patch("/members/me")
@documented(
    "Change your profile and subscriptions",
    body=ProfilePatchSchema,
    responses={200: MemberSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def update_me(body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="update")
        services().membership.update_profile(session, member, body)
        return member_view(member)


@bp.get("/members/me/interests")
@documented(
    "Your interests: themes and municipalities you follow, and how often the digest comes",
    responses={200: InterestsSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def my_interests() -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return interests_view(acting_member(session))


@bp.put("/members/me/interests")
@documented(
    "Replace your interests (all three fields; an empty list follows nothing)",
    body=InterestsSchema,
    responses={200: InterestsSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def replace_my_interests(body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="update")
        services().interests.change(session, member, body)
        return interests_view(member)


@bp.get("/members/me/registrations")
@documented(
    "Your gathering registrations: upcoming ones first (soonest first), then past ones",
    query=PageQuery,
    responses={200: MyRegistrationPageSchema},
    auth="member",
    problems=(403,),
    tags=("gatherings",),
)
def registrations_of_mine(query: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session)
        return my_registrations(
            session,
            member.id,
            services().settings.common.public_base_url,
            query["page"],
            query["per_page"],
        )


@bp.get("/members/me/export")
@documented(
    "Everything the members service holds about you",
    responses={200: ExportSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def export_me() -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return services().personal_data.export(session, acting_member(session).id)


@bp.delete("/members/me")
@documented(
    "Erase yourself: your data here goes now, the other services follow",
    responses={202: StatusSchema},
    auth="member",
    problems=(403,),
    tags=("members",),
)
def erase_me() -> tuple[dict[str, str], int]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="update")
        services().personal_data.erase(session, member)
    return {"status": "erased"}, 202


@bp.post("/unsubscribe")
@documented(
    "One-click unsubscribe (RFC 8058): the signed token from the List-Unsubscribe URL's query "
    "(a mail program posts `List-Unsubscribe=One-Click` to that URL), or as a form field",
    query=UnsubscribeQuery,
    responses={200: UnsubscribedSchema},
    problems=(400,),
    tags=("members",),
)
def unsubscribe(query: dict[str, Any]) -> dict[str, str]:
    with current_runtime().db.transaction() as session:
        mailing_list = services().membership.unsubscribe(session, query["token"])
    return {"status": "unsubscribed", "list": mailing_list}


@bp.get("/municipalities")
@documented("Finnish municipalities", responses={200: MunicipalityListSchema}, tags=("network",))
def list_municipalities() -> dict[str, Any]:
    return {
        "items": [
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
    }
