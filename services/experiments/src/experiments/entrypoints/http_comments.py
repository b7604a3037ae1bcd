"""HTTP API: comments on experiments, reports, and the coordinators' moderation."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response
from uskalla_kit import current_runtime
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import page_of

from experiments.entrypoints.caller import acting, services, viewer
from experiments.entrypoints.comment_schemas import (
    CommentBodySchema,
    CommentPageQuery,
    CommentPageSchema,
    CommentSchema,
    ModeratedCommentSchema,
    ModerationPageSchema,
    ModerationQuery,
    ReportResultSchema,
    ReportSchema,
)

bp = Blueprint("comments", __name__, url_prefix="/api/v1")
TAGS = ("comments",)
#: The view that the per-member comment rate limit is put on (see bootstrap.build_app).
POST_ENDPOINT = "comments.post_comment"


@bp.get("/experiments/<uuid:experiment_id>/comments")
@documented(
    "Visible comments, oldest first, as written and rendered",
    query=CommentPageQuery,
    responses={200: CommentPageSchema},
    tags=TAGS,
)
def list_comments(experiment_id: uuid.UUID, query: dict[str, Any]) -> dict[str, Any]:
    caller = viewer()
    page, per_page = query["page"], query["per_page"]
    with current_runtime().db.transaction() as session:
        items, total = services().comments.visible_page(
            session, caller, experiment_id, page, per_page
        )
    return page_of(items, page, per_page, total)


@bp.post("/experiments/<uuid:experiment_id>/comments")
@documented(
    "Comment in the plain-text format (1 to 5000 characters)",
    body=CommentBodySchema,
    responses={201: CommentSchema},
    auth="member",
    tags=TAGS,
)
def post_comment(experiment_id: uuid.UUID, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    caller = viewer()
    with acting(caller) as session:
        return services().comments.post(session, caller, experiment_id, body["body"]), 201


@bp.patch("/comments/<uuid:comment_id>")
@documented(
    "Edit a comment (marked edited); its author or a coordinator",
    body=CommentBodySchema,
    responses={200: CommentSchema},
    auth="member",
    problems=(403,),
    tags=TAGS,
)
def edit_comment(comment_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().comments.edit(session, caller, comment_id, body["body"])


@bp.delete("/comments/<uuid:comment_id>")
@documented(
    "Delete a comment; its author or a coordinator",
    responses={204: None},
    auth="member",
    problems=(403,),
    tags=TAGS,
)
def delete_comment(comment_id: uuid.UUID) -> Response:
    caller = viewer()
    with acting(caller) as session:
        services().comments.remove(session, caller, comment_id)
    return Response(status=204)


@bp.post("/comments/<uuid:comment_id>/reports")
@documented(
    "Report a comment (once per member); hidden after reports by 3 different members",
    body=ReportSchema,
    responses={201: ReportResultSchema},
    auth="member",
    problems=(409,),
    tags=TAGS,
)
def report_comment(comment_id: uuid.UUID, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    caller = viewer()
    with acting(caller) as session:
        return services().comments.report(session, caller, comment_id, body["reason"]), 201


@bp.post("/comments/<uuid:comment_id>/hide")
@documented(
    "Hide a comment",
    responses={200: ModeratedCommentSchema},
    auth="coordinator",
    tags=("moderation",),
)
def hide_comment(comment_id: uuid.UUID) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().comments.hide(session, caller, comment_id)


@bp.post("/comments/<uuid:comment_id>/restore")
@documented(
    "Show a hidden comment again (earlier reports no longer count)",
    responses={200: ModeratedCommentSchema},
    auth="coordinator",
    tags=("moderation",),
)
def restore_comment(comment_id: uuid.UUID) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().comments.restore(session, caller, comment_id)


@bp.get("/moderation/comments")
@documented(
    "Reported and hidden comments, with report counts by reason",
    query=ModerationQuery,
    responses={200: ModerationPageSchema},
    auth="coordinator",
    tags=("moderation",),
)
def moderation_list(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    with acting(viewer()) as session:
        items, total = services().comments.moderation_page(session, query["status"], page, per_page)
    return page_of(items, page, per_page, total)
