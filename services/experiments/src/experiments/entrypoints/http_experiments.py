"""HTTP API: experiments (list, create, read, edit, publish, stage, evaluation) and themes."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint
from uskalla_kit import current_runtime
from uskalla_kit.auth import require_identity
from uskalla_kit.openapi import documented
from uskalla_kit.pagination import page_of

from experiments.adapters.search import ExperimentFilters
from experiments.entrypoints.caller import acting, services, viewer
from experiments.entrypoints.schemas import (
    CreateExperimentSchema,
    EvaluationSchema,
    ExperimentListQuery,
    ExperimentPageSchema,
    ExperimentSchema,
    StageSchema,
    ThemeListSchema,
    UpdateExperimentSchema,
)

bp = Blueprint("experiments", __name__, url_prefix="/api/v1")
TAGS = ("experiments",)


def filters_from(args: dict[str, object]) -> ExperimentFilters:
    q = str(args["q"]).strip() if args.get("q") else None
    names = ("theme", "municipality_code", "stage", "kind", "scale", "outcome", "language")
    values = {name: args.get(name) for name in names}
    sort = str(args.get("sort") or ("relevance" if q else "newest"))
    return ExperimentFilters(q=q or None, sort=sort, **values)  # type: ignore[arg-type]


@bp.get("/experiments")
@documented(
    "Published experiments: filters, Finnish-aware full-text search, sorting, pages; "
    "`owner=me`: the caller's own, drafts included (sign in first)",
    query=ExperimentListQuery,
    responses={200: ExperimentPageSchema},
    problems=(401,),
    tags=TAGS,
)
def list_experiments(query: dict[str, Any]) -> dict[str, Any]:
    page, per_page = query["page"], query["per_page"]
    filters = filters_from(query)
    if query.get("owner") == "me":
        require_identity()
        caller = viewer()
        with current_runtime().db.transaction() as session:
            items, total = services().experiments.owned(session, caller, filters, page, per_page)
    else:
        with current_runtime().db.transaction() as session:
            items, total = services().experiments.search(session, filters, page, per_page)
    return page_of(items, page, per_page, total)


@bp.post("/experiments")
@documented(
    "Register an experiment as a draft; the creator becomes its owner",
    body=CreateExperimentSchema,
    responses={201: ExperimentSchema},
    auth="member",
    tags=TAGS,
)
def create_experiment(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    caller = viewer()
    with acting(caller) as session:
        created = services().experiments.create(session, caller, body)
    return created, 201, {"Location": f"/api/v1/experiments/{created['id']}"}


@bp.get("/experiments/<uuid:experiment_id>")
@documented(
    "An experiment (a draft only for its owners and coordinators)",
    responses={200: ExperimentSchema},
    tags=TAGS,
)
def get_experiment(experiment_id: uuid.UUID) -> dict[str, Any]:
    caller = viewer()
    with current_runtime().db.transaction() as session:
        return services().experiments.detail(session, caller, experiment_id)


@bp.patch("/experiments/<uuid:experiment_id>")
@documented(
    "Edit an experiment's fields; add or remove owners",
    body=UpdateExperimentSchema,
    responses={200: ExperimentSchema},
    auth="member",
    problems=(403, 409),
    tags=TAGS,
)
def update_experiment(experiment_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().experiments.update(session, caller, experiment_id, body)


@bp.post("/experiments/<uuid:experiment_id>/publish")
@documented(
    "Make an experiment public (again: no change)",
    responses={200: ExperimentSchema},
    auth="member",
    problems=(403,),
    tags=TAGS,
)
def publish_experiment(experiment_id: uuid.UUID) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().experiments.publish(session, caller, experiment_id)


@bp.post("/experiments/<uuid:experiment_id>/stage")
@documented(
    "Move through idea → planning → running → evaluated, or to discontinued",
    body=StageSchema,
    responses={200: ExperimentSchema},
    auth="member",
    problems=(403, 409),
    tags=TAGS,
)
def change_stage(experiment_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().experiments.change_stage(session, caller, experiment_id, body["stage"])


@bp.put("/experiments/<uuid:experiment_id>/evaluation")
@documented(
    "Record the evaluation: outcome (failed is a full result), rating, what worked and failed",
    body=EvaluationSchema,
    responses={200: ExperimentSchema},
    auth="member",
    problems=(403, 409),
    tags=TAGS,
)
def put_evaluation(experiment_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    caller = viewer()
    with acting(caller) as session:
        return services().experiments.evaluate(session, caller, experiment_id, body)


@bp.get("/themes")
@documented(
    "Themes with Finnish, Swedish and English names", responses={200: ThemeListSchema}, tags=TAGS
)
def list_themes() -> dict[str, Any]:
    with current_runtime().db.transaction() as session:
        return {"items": services().experiments.themes(session)}
