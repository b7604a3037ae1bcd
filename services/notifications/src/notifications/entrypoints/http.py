"""The notifications HTTP API: newsletters, the delivery log, bounces, the member export."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, request
from uskalla_kit import current_runtime, json_body, require_identity
from uskalla_kit.auth import Identity
from uskalla_kit.internal import HEADER, internal_only
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import page_of

from notifications.entrypoints.schemas import (
    BounceResultSchema,
    BounceSchema,
    CopyQueuedSchema,
    DeliveryPage,
    DeliveryQuery,
    ExportSchema,
    NewsletterCreate,
    NewsletterPage,
    NewsletterPatch,
    NewsletterQuery,
    NewsletterSchema,
)
from notifications.service_layer import services_of
from notifications.service_layer.log import delivery_log
from notifications.service_layer.newsletters import Newsletters
from notifications.service_layer.privacy import export_member
from notifications.service_layer.suppressions import record_bounce

bp = Blueprint("notifications", __name__, url_prefix="/api/v1")
internal = Blueprint("notifications_internal", __name__, url_prefix="/internal/v1")
TAGS = ("e-mail",)


def newsletters() -> Newsletters:
    return services_of(current_runtime()).newsletters


def coordinator() -> Identity:
    return require_identity("coordinator")


@bp.get("/newsletters")
@documented(
    "List newsletters, newest first",
    query=NewsletterQuery,
    responses={200: NewsletterPage},
    auth="coordinator",
    tags=TAGS,
)
def list_newsletters() -> Response:
    coordinator()
    q = NewsletterQuery().load(request.args)
    with current_runtime().db.transaction() as session:
        items, total = newsletters().listing(session, q.get("status"), q["page"], q["per_page"])
    return jsonify(page_of(items, q["page"], q["per_page"], total))


@bp.post("/newsletters")
@documented(
    "Create a newsletter draft",
    body=NewsletterCreate,
    responses={201: NewsletterSchema},
    auth="coordinator",
    tags=TAGS,
)
def create_newsletter() -> tuple[Response, int]:
    identity = coordinator()
    data = NewsletterCreate().load(json_body())
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().create(session, data, identity.member_id)
        [item] = newsletters().views(session, [newsletter])
    return jsonify(item), 201


@bp.get("/newsletters/<uuid:newsletter_id>")
@documented(
    "A newsletter with its status and progress",
    responses={200: NewsletterSchema},
    auth="coordinator",
    tags=TAGS,
)
def get_newsletter(newsletter_id: uuid.UUID) -> Response:
    coordinator()
    with current_runtime().db.transaction() as session:
        [item] = newsletters().views(session, [newsletters().get(session, newsletter_id)])
    return jsonify(item)


@bp.patch("/newsletters/<uuid:newsletter_id>")
@documented(
    "Edit a draft",
    body=NewsletterPatch,
    responses={200: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def patch_newsletter(newsletter_id: uuid.UUID) -> Response:
    coordinator()
    data = NewsletterPatch().load(json_body())
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().update(session, newsletter_id, data)
        [item] = newsletters().views(session, [newsletter])
    return jsonify(item)


@bp.post("/newsletters/<uuid:newsletter_id>/test")
@documented(
    "Send one copy to the caller",
    responses={202: CopyQueuedSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def test_newsletter(newsletter_id: uuid.UUID) -> tuple[Response, int]:
    identity = coordinator()
    with current_runtime().db.transaction() as session:
        email = newsletters().send_test(session, newsletter_id, identity.member_id)
    return jsonify(status="queued", email=email), 202


@bp.post("/newsletters/<uuid:newsletter_id>/send")
@documented(
    "Send to every subscribed member in the audience, once each",
    responses={202: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def send_newsletter(newsletter_id: uuid.UUID) -> tuple[Response, int]:
    coordinator()
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().send(session, newsletter_id)
        [item] = newsletters().views(session, [newsletter])
    return jsonify(item), 202


@bp.post("/newsletters/<uuid:newsletter_id>/cancel")
@documented(
    "Stop what has not been sent",
    responses={200: NewsletterSchema},
    auth="coordinator",
    problems=(409,),
    tags=TAGS,
)
def cancel_newsletter(newsletter_id: uuid.UUID) -> Response:
    coordinator()
    with current_runtime().db.transaction() as session:
        newsletter = newsletters().cancel(session, newsletter_id)
        [item] = newsletters().views(session, [newsletter])
    return jsonify(item)


@bp.get("/deliveries")
@documented(
    "The delivery log, newest first",
    query=DeliveryQuery,
    responses={200: DeliveryPage},
    auth="coordinator",
    tags=TAGS,
)
def list_deliveries() -> Response:
    coordinator()
    q = DeliveryQuery().load(request.args)
    with current_runtime().db.transaction() as session:
        items, total = delivery_log(session, q, q["page"], q["per_page"])
    return jsonify(page_of(items, q["page"], q["per_page"], total))


@bp.post("/bounces")
@documented(
    "Report a bounce: hard suppresses the address, soft is counted",
    body=BounceSchema,
    responses={200: BounceResultSchema},
    auth="coordinator or internal",
    tags=TAGS,
)
def report_bounce() -> Response:
    if request.headers.get(HEADER):
        return _internal_bounce()
    coordinator()
    return _bounce()


@internal_only
def _internal_bounce() -> Response:
    return _bounce()


def _bounce() -> Response:
    data = BounceSchema().load(json_body())
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        result = record_bounce(
            session, runtime.events, email=data["email"], kind=data["kind"], reason=data["reason"]
        )
    return jsonify(result)


@internal.get("/members/<uuid:member_id>/export")
@documented(
    "Everything notifications holds about a member (for the gateway's export)",
    responses={200: ExportSchema},
    auth="internal",
    tags=("internal",),
)
@internal_only
def export(member_id: uuid.UUID) -> Response:
    with current_runtime().db.transaction() as session:
        return jsonify(export_member(session, member_id))
