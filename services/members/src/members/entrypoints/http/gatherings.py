"""Gatherings: drafts and publishing (coordinators), reading, registering, calendar files."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify
from uskalla_kit import current_identity, current_runtime, json_body
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import page_of

from members.entrypoints.gathering_schemas import (
    GatheringCreateSchema,
    GatheringListQuery,
    GatheringPageSchema,
    GatheringPatchSchema,
    GatheringSchema,
    RegistrantPageSchema,
    RegistrantQuery,
    RegistrationStatusSchema,
)
from members.entrypoints.http.requests import csv_response, query, services, wants_csv
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
    "Published gatherings, soonest first (upcoming=true by default); coordinators may list "
    "drafts with status=draft",
    query=GatheringListQuery,
    responses={200: GatheringPageSchema},
    problems=(401, 403),
    tags=("gatherings",),
)
def list_gatherings() -> Response:
    args = query(GatheringListQuery)
    with current_runtime().db.transaction() as session:
        if args["status"] == "draft":
            acting_member(session, "coordinator")
        items, total = services().gatherings.listing(
            session,
            status=args["status"],
            upcoming=args["upcoming"],
            kind=args.get("kind"),
            language=args.get("language"),
            page=args["page"],
            per_page=args["per_page"],
        )
    return jsonify(page_of(items, args["page"], args["per_page"], total))


@bp.post("")
@documented(
    "Create a draft gathering",
    body=GatheringCreateSchema,
    responses={201: GatheringSchema},
    auth="coordinator",
    tags=("gatherings",),
)
def create_gathering() -> tuple[Response, int]:
    data = GatheringCreateSchema().load(json_body())
    with current_runtime().db.transaction() as session:
        author = acting_member(session, "coordinator")
        gatherings = services().gatherings
        view = gatherings.view(session, gatherings.create(session, author, data), viewer())
    return jsonify(view), 201


@bp.get("/<uuid:gathering_id>")
@documented(
    "A gathering with its registered and waitlisted counts (drafts: coordinators only)",
    responses={200: GatheringSchema},
    problems=(401,),
    tags=("gatherings",),
)
def get_gathering(gathering_id: uuid.UUID) -> Response:
    with current_runtime().db.transaction() as session:
        view = services().gatherings.read(session, gathering_id, viewer())
    return jsonify(view)


@bp.patch("/<uuid:gathering_id>")
@documented(
    "Edit a gathering (a bigger capacity promotes from the waitlist)",
    body=GatheringPatchSchema,
    responses={200: GatheringSchema},
    auth="coordinator",
    tags=("gatherings",),
)
def update_gathering(gathering_id: uuid.UUID) -> Response:
    changes = GatheringPatchSchema().load(json_body())
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        gatherings = services().gatherings
        view = gatherings.view(session, gatherings.update(session, gathering_id, changes), viewer())
    return jsonify(view)


@bp.post("/<uuid:gathering_id>/publish")
@documented(
    "Publish a draft; members who want invitations are invited",
    responses={200: GatheringSchema},
    auth="coordinator",
    problems=(409,),
    tags=("gatherings",),
)
def publish_gathering(gathering_id: uuid.UUID) -> Response:
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        gatherings = services().gatherings
        view = gatherings.view(session, gatherings.publish(session, gathering_id), viewer())
    return jsonify(view)


@bp.post("/<uuid:gathering_id>/registrations")
@documented(
    "Register (a place, or the waitlist when full)",
    responses={201: RegistrationStatusSchema},
    auth="member",
    problems=(403, 409, 422),
    tags=("gatherings",),
)
def register(gathering_id: uuid.UUID) -> tuple[Response, int]:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="share")
        status = services().registrations.register(session, gathering_id, member)
    return jsonify(status=status), 201


@bp.delete("/<uuid:gathering_id>/registrations/me")
@documented(
    "Cancel your registration; the first in the waitlist gets the place",
    responses={200: RegistrationStatusSchema},
    auth="member",
    problems=(403,),
    tags=("gatherings",),
)
def cancel_registration(gathering_id: uuid.UUID) -> Response:
    with current_runtime().db.transaction() as session:
        member = acting_member(session, lock="share")
        services().registrations.cancel(session, gathering_id, member)
    return jsonify(status="cancelled")


@bp.get("/<uuid:gathering_id>/registrations")
@documented(
    "Who is coming (registered first, then the waitlist in order); `Accept: text/csv` gives "
    "every one as CSV",
    query=RegistrantQuery,
    responses={200: RegistrantPageSchema},
    auth="coordinator",
    tags=("gatherings",),
)
def list_registrations(gathering_id: uuid.UUID) -> Response:
    args = query(RegistrantQuery)
    csv = wants_csv()
    with current_runtime().db.transaction() as session:
        acting_member(session, "coordinator")
        rows, total = services().registrations.registrants(
            session, gathering_id, None if csv else args["page"], args["per_page"]
        )
    if csv:
        return csv_response(REGISTRANT_COLUMNS, rows, f"gathering-{gathering_id}.csv")
    return jsonify(page_of(rows, args["page"], args["per_page"], total))


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
