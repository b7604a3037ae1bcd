"""HTTP API: following experiments, and the experiments a member follows."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import PageQuery, page_of

from experiments.entrypoints.caller import acting, services, viewer
from experiments.entrypoints.schemas import FollowedPageSchema, FollowStateSchema

bp = Blueprint("follows", __name__, url_prefix="/api/v1")
TAGS = ("follows",)


@bp.post("/experiments/<uuid:experiment_id>/followers")
@documented(
    "Follow a published experiment (201; again: 200): its stage changes, evaluation and "
    "comments are e-mailed",
    responses={201: FollowStateSchema, 200: FollowStateSchema},
    auth="member",
    problems=(409,),
    tags=TAGS,
)
def follow(experiment_id: uuid.UUID) -> tuple[dict[str, Any], int]:
    caller = viewer()
    with acting(caller) as session:
        state, created = services().follows.follow(session, caller, experiment_id)
    return state, 201 if created else 200


@bp.delete("/experiments/<uuid:experiment_id>/followers/me")
@documented(
    "Stop following an experiment (owners too); not following is no error",
    responses={200: FollowStateSchema},
    auth="member",
    tags=TAGS,
)
def unfollow(experiment_id: uuid.UUID) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().follows.unfollow(session, caller, experiment_id)


@bp.get("/members/me/follows")
@documented(
    "The experiments you follow, most recently followed first",
    query=PageQuery,
    responses={200: FollowedPageSchema},
    auth="member",
    tags=TAGS,
)
def my_follows(query: dict[str, Any]) -> dict[str, Any]:
    caller = viewer()
    page, per_page = query["page"], query["per_page"]
    with acting(caller) as session:
        items, total = services().follows.followed_page(session, caller, page, per_page)
    return page_of(items, page, per_page, total)
