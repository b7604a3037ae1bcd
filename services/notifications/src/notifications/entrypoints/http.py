"""The notifications HTTP API: newsletters, the delivery log, bounces, the member export."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from flask import Blueprint, Response
from sqlalchemy.orm import Session
from uskalla_kit import current_runtime, require_identity
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import PageQuery, page_of

from notifications.entrypoints.newsletter_schemas import (
    ArchivedLetterSchema,
    ArchivePage,
    ArchiveQuery,
    PreviewRequest,
    PreviewSchema,
    ScheduleSchema,
)
from notifications.entrypoints.schemas import (
    BounceResultSchema,
    BounceSchema,
    CopyQueuedSchema,
    DeliveryPage,
    DeliveryQuery,
    ExportSchema,
    KeptMailPage,
    NewsletterCreate,
    NewsletterPage,
    NewsletterPatch,
    NewsletterQuery,
    NewsletterSchema,
    SuppressionPage,
)
from notifications.service_layer import services_of
from notifications.service_layer.bounces import kept_mail
from notifications.service_layer.log import delivery_log
from notifications.service_layer.newsletters import Newsletters
from notifications.service_layer.privacy import export_member
from notifications.service_layer.suppressions import lift, record_bounce, suppressed

bp = Blueprint("notifications", __name__, url_prefix="/api/v1")
internal = Blueprint("notifications_internal", __name__, url_prefix="/internal/v1")
TAGS = ("e-mail",)


class Listing(Protocol):
    def __call__(
        self, session: Session, *, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]: ...


def newsletters() -> Newsletters:
    return services_of(current_runtime()).newsletters


def caller_id() -> str:
    """The signed-in coordinator's member id (the declaration has checked who calls)."""
    return require_identity().member_id


@bp.get("/newsletters")
@documented(
    "List newsletters, newest first",
    query=NewsletterQuery,
    responses={200: NewsletterPage},
    auth="coordinator",
    tags=TAGS,
)
def list_newsletters(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    with current_runtime().db.transaction() as session:
        items, total = newsletters().listing(session, query.get("status"), page, per_page)
    return page_of(items, page, per_page, total)


@bp.post("/newsletters")
@documented(
    "Create a newsletter draft",
    body=NewsletterCreate,
    responses={201: NewsletterSchema},
    auth="coordinator",
    tags=TAGS,
)
def create_newsletter(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().create(session, body, caller_id())
        [item] = newsletters().views(session, [newsletter])
    return item, 201


@bp.get("/newsletters/<uuid:newsletter_id>")
@documented(
    "A newsletter with its status and progress",
    responses={200: NewsletterSchema},
    auth="coordinator",
    tags=TAGS,
)
def get_newsletter(newsletter_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        [item] = newsletters().views(session, [newsletters().get(session, newsletter_id)])
    return item


@bp.patch("/newsletters/<uuid:newsletter_id>")
@documented(
    "Edit a draft",
    body=NewsletterPatch,
    responses={200: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def patch_newsletter(newsletter_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().update(session, newsletter_id, body)
        [item] = newsletters().views(session, [newsletter])
    return item


@bp.post("/newsletters/<uuid:newsletter_id>/test")
@documented(
    "Send one copy to the caller",
    responses={202: CopyQueuedSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def test_newsletter(newsletter_id: uuid.UUID) -> tuple[dict[str, Any], int]:
    with current_runtime().db.transaction() as session:
        email = newsletters().send_test(session, newsletter_id, caller_id())
    return {"status": "queued", "email": email}, 202


@bp.post("/newsletters/<uuid:newsletter_id>/send")
@documented(
    "Send to every subscribed member in the audience, once each",
    responses={202: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def send_newsletter(newsletter_id: uuid.UUID) -> tuple[dict[str, Any], int]:
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().send(session, newsletter_id)
        [item] = newsletters().views(session, [newsletter])
    return item, 202


@bp.post("/newsletters/<uuid:newsletter_id>/schedule")
@documented(
    "Send by itself at send_at (in the future); status scheduled until it starts",
    body=ScheduleSchema,
    responses={200: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def schedule_newsletter(newsletter_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().schedule(session, newsletter_id, body["send_at"])
        [item] = newsletters().views(session, [newsletter])
    return item


@bp.delete("/newsletters/<uuid:newsletter_id>/schedule")
@documented(
    "Unschedule: a draft again",
    responses={200: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def unschedule_newsletter(newsletter_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().unschedule(session, newsletter_id)
        [item] = newsletters().views(session, [newsletter])
    return item


@bp.post("/newsletters/preview")
@documented(
    "A draft as it would be sent: the mail's subject, HTML and text parts",
    body=PreviewRequest,
    responses={200: PreviewSchema},
    auth="coordinator",
    tags=TAGS,
)
def preview_newsletter(body: dict[str, Any]) -> dict[str, Any]:
    return newsletters().archive.preview(body["subject"], body["body"], body["language"])


@bp.get("/newsletters/archive")
@documented(
    "Sent newsletters marked public, newest first",
    query=PageQuery,
    responses={200: ArchivePage},
    tags=TAGS,
)
def list_archive(query: dict[str, Any]) -> dict[str, Any]:
    return _listed(newsletters().archive.listing, query)


@bp.get("/newsletters/archive/<uuid:newsletter_id>")
@documented(
    "One archived newsletter, with its HTML as sent",
    query=ArchiveQuery,
    responses={200: ArchivedLetterSchema},
    tags=TAGS,
)
def get_archived(newsletter_id: uuid.UUID, query: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return newsletters().archive.letter(session, newsletter_id, query["language"])


@bp.post("/newsletters/<uuid:newsletter_id>/cancel")
@documented(
    "Stop what has not been sent",
    responses={200: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def cancel_newsletter(newsletter_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().cancel(session, newsletter_id)
        [item] = newsletters().views(session, [newsletter])
    return item


@bp.get("/deliveries")
@documented(
    "The delivery log, newest first",
    query=DeliveryQuery,
    responses={200: DeliveryPage},
    auth="coordinator",
    tags=TAGS,
)
def list_deliveries(query: dict[str, Any]) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        items, total = delivery_log(session, query, query["page"], query["per_page"])
    return page_of(items, query["page"], query["per_page"], total)


@bp.post("/bounces")
@documented(
    "Report a bounce: hard suppresses the address, soft is counted",
    body=BounceSchema,
    responses={200: BounceResultSchema},
    auth="coordinator or internal",
    tags=TAGS,
)
def report_bounce(body: dict[str, Any]) -> dict[str, Any]:
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        return record_bounce(
            session,
            runtime.events,
            email=body["email"],
            kind=body["kind"],
            reason=body["reason"],
            soft_limit=services_of(runtime).settings.soft_bounce_limit,
        )


@bp.get("/bounces/unread")
@documented(
    "Mail the bounce receiver could not read, kept for a coordinator: summaries, newest first",
    query=PageQuery,
    responses={200: KeptMailPage},
    auth="coordinator",
    tags=TAGS,
)
def list_kept_mail(query: dict[str, Any]) -> dict[str, Any]:
    return _listed(kept_mail, query)


@bp.get("/suppressions")
@documented(
    "Suppressed addresses, newest first, with the reason, since when and how many bounces",
    query=PageQuery,
    responses={200: SuppressionPage},
    auth="coordinator",
    tags=TAGS,
)
def list_suppressions(query: dict[str, Any]) -> dict[str, Any]:
    return _listed(suppressed, query)


def _listed(listing: Listing, query: dict[str, Any]) -> dict[str, Any]:
    """One page of a coordinator's listing (`page`, `per_page`)."""
    page, per_page = query["page"], query["per_page"]
    with current_runtime().db.transaction() as session:
        items, total = listing(session, page=page, per_page=per_page)
    return page_of(items, page, per_page, total)


@bp.delete("/suppressions/<uuid:suppression_id>")
@documented(
    "Lift a suppression: the address is mailed again",
    responses={204: None},
    auth="coordinator",
    problems=(404,),
    tags=TAGS,
)
def lift_suppression(suppression_id: uuid.UUID) -> Response:
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        lift(session, runtime.events, suppression_id)
    return Response(status=204)


@internal.get("/members/<uuid:member_id>/export")
@documented(
    "Everything notifications holds about a member (for the gateway's export)",
    responses={200: ExportSchema},
    auth="internal",
    tags=("internal",),
)
def export(member_id: uuid.UUID) -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return export_member(session, member_id)
