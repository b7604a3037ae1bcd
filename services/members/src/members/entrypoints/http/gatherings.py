"""Gatherings: drafts and publishing (coordinators), reading, registering, calendar files."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response
from uskalla_kit import current_identity, current_runtime
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import page_of

from members.entrypoints.gathering_schemas import (
    AttendanceBodySchema,
    AttendanceSchema,
    GatheringCreateSchema,
    GatheringListQuery,
    GatheringPageSchema,
    GatheringPatchSchema,
    GatheringRecordSchema,
    GatheringSchema,
    RegistrantPageSchema,
    RegistrantQuery,
    RegistrationStatusSchema,
)
from members.entrypoints.http.requests import csv_response, services, wants_csv
from members.service_layer.access import acting_member

bp = Blueprint("gatherings", __name__, url_prefix="/api/v1/gatherings")

REGISTRANT_COLUMNS = [
    "position",
    "status",
    "name",
    "email",
    "organisation",
    "municipality_code",
    "registered_at",
    "member_id",
    "attended",
]


def viewer() -> uuid.UUID | None:
    """The signed-in caller's member id, if any (whose own registration a gathering shows)."""
    identity = current_identity()
    try:
        return uuid.UUID(identity.member_id) if identity is not None else None
    except ValueError:
        return None


@bp.get("")
@documented(
    "Published gatherings, soonest first (upcoming=true by default); when=past lists the ended "
    "ones latest first (when=all every one); coordinators may list drafts with status=draft",
    query=GatheringListQuery,
    responses={200: GatheringPageSchema},
    problems=(401, 403),
    tags=("gatherings",),
)
def list_gatherings(query: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        if query["status"] == "draft":
            acting_member(session, "coordinator")
        items, total = services().gatherings.listing(
            session,
            status=query["status"],
            when=query.get("when") or ("upcoming" if query["upcoming"] else "all"),
            kind=query.get("kind"),
            language=query.get("language"),
            page=query["page"],
            per_page=query["per_page"],
        )
    return page_of(items, query["page"], query["per_page"], total)


@bp.post("")
@documented(
    "Create a draft gathering",
    body=GatheringCreateSchema,
    responses={201: GatheringSchema},
    auth="coordinator",
    tags=("gatherings",),
)
def create_gathering(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    with current_runtime().db.transaction() as session:
        author = acting_member(session, "coordinator")
        gatherings = services().gatherings
        view = gatherings.view(session, gatherings.create(session, author, body), viewer())
    return view, 201


@bp.get("/calendar.ics")
@documented(
    "A subscribable iCalendar (RFC 5545) of every published gathering, upcoming and of the "
    "last 90 days; cancelled ones with STATUS:CANCELLED",
    responses={200: "text/calendar"},
    content_types={200: "text/calendar"},
    tags=("gatherings",),
)
def calendar_feed() -> Response:
    with current_runtime().db.transaction() as session:
        body = services().gatherings.feed(session)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'inline; filename="gatherings.ics"'},
    )


@bp.get("/<uuid:gathering_id>")
@documented(
    "A gathering with its registered and waitlisted counts (drafts: coordinators only)",
    responses={200: GatheringSchema},
    problems=(401,),
    tags=("gatherings",),
)
def get_gathering(gathering_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return services().gatherings.read(session, gathering_id, viewer())


@bp.patch("/<uuid:gathering_id>")
@documented(
    "Edit a gathering (a bigger capacity promotes from the waitlist)",
    body=GatheringPatchSchema,
    responses={200: GatheringSchema},
    auth="coordinator",
    tags=("gatherings",),
)
def update_gathering(gathering_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        gatherings = services().gatherings
        return gatherings.view(session, gatherings.update(session, gathering_id, body), viewer())


@bp.post("/<uuid:gathering_id>/publish")
@documented(
    "Publish a draft; members who want invitations are invited",
    responses={200: GatheringSchema},
    auth="coordinator",
    problems=(409,),
    tags=("gatherings",),
)
def publish_gathering(gathering_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        gatherings = services().gatherings
        return gatherings.view(session, gatherings.publish(session, gathering_id), viewer())


@bp.post("/<uuid:gathering_id>/cancel")
@documented(
    "Cancel a published gathering; its registered and waitlisted members are told (again: "
    "no change)",
    responses={200: GatheringSchema},
    auth="coordinator",
    problems=(409,),
    tags=("gatherings",),
)
def cancel_gathering(gathering_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        gatherings = services().gatherings
        return gatherings.view(session, gatherings.cancel(session, gathering_id), viewer())


@bp.put("/<uuid:gathering_id>/record")
@documented(
    "After the start: the gathering's summary (plain text), links to materials and the "
    "experiments it discussed, all replaced",
    body=GatheringRecordSchema,
    responses={200: GatheringSchema},
    auth="coordinator",
    problems=(409,),
    tags=("gatherings",),
)
def record_gathering(gathering_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        gatherings = services().gatherings
        return gatherings.view(session, gatherings.record(session, gathering_id, body), viewer())


@bp.get("/<uuid:gathering_id>/attendance")
@documented(
    "Who of the registered members came (as marked), and how many were registered",
    responses={200: AttendanceSchema},
    auth="coordinator",
    tags=("gatherings",),
)
def get_attendance(gathering_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        return services().gatherings.attendance(session, gathering_id)


@bp.put("/<uuid:gathering_id>/attendance")
@documented(
    "After the start: the registered members who came; every other registered member did not",
    body=AttendanceBodySchema,
    responses={200: AttendanceSchema},
    auth="coordinator",
    problems=(409,),
    tags=("gatherings",),
)
def put_attendance(gathering_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        return services().gatherings.mark_attendance(session, gathering_id, body["attended"])


@bp.post("/<uuid:gathering_id>/registrations")
@documented(
    "Register (a place, or the waitlist when full)",
    responses={201: RegistrationStatusSchema},
    auth="member",
    problems=(403, 409, 422),
    tags=("gatherings",),
)
def register(gathering_id: uuid.UUID) -> tuple[dict[str, str], int]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="share")
        status = services().registrations.register(session, gathering_id, member)
    return {"status": status}, 201


@bp.delete("/<uuid:gathering_id>/registrations/me")
@documented(
    "Cancel your registration; the first in the waitlist gets the place",
    responses={200: RegistrationStatusSchema},
    auth="member",
    problems=(403,),
    tags=("gatherings",),
)
def cancel_registration(gathering_id: uuid.UUID) -> dict[str, str]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="share")
        services().registrations.cancel(session, gathering_id, member)
    return {"status": "cancelled"}


@bp.get("/<uuid:gathering_id>/registrations")
@documented(
    "Who is coming (registered first, then the waitlist in order); `Accept: text/csv` gives "
    "every one as CSV",
    query=RegistrantQuery,
    responses={200: RegistrantPageSchema},
    auth="coordinator",
    tags=("gatherings",),
)
def list_registrations(gathering_id: uuid.UUID, query: dict[str, Any]) -> Response | dict[str, Any]:
    csv = wants_csv()
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        rows, total = services().registrations.registrants(
            session, gathering_id, None if csv else query["page"], query["per_page"]
        )
    if csv:
        return csv_response(REGISTRANT_COLUMNS, rows, f"gathering-{gathering_id}.csv")
    return page_of(rows, query["page"], query["per_page"], total)


@bp.get("/<uuid:gathering_id>/calendar.ics")
@documented(
    "The gathering as an iCalendar (RFC 5545) event",
    responses={200: "text/calendar"},
    content_types={200: "text/calendar"},
    problems=(401,),
    tags=("gatherings",),
)
def calendar(gathering_id: uuid.UUID) -> Response:
    with current_runtime().db.transaction() as session:
        body = services().gatherings.calendar_file(session, gathering_id)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="gathering-{gathering_id}.ics"'},
    )
