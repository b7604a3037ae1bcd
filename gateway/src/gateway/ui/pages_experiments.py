"""Experiment pages: search and list, detail with evaluation and comments, owners' forms."""

from __future__ import annotations

from typing import Any

from flask import redirect, request
from uskalla_reference.municipalities import municipalities as places
from werkzeug.wrappers import Response as BaseResponse

from gateway import session
from gateway.ui import client, ui
from gateway.ui.common import form_list, link, render, signed_in
from gateway.ui.i18n import current_language
from gateway.ui.pages_network import municipalities

Page = tuple[str, int] | BaseResponse
STAGES = ("idea", "planning", "running", "evaluated", "discontinued")
OUTCOMES = ("succeeded", "partly_succeeded", "failed", "inconclusive")
KINDS = ("experiment", "pilot")
SCALES = ("small", "large")
SORTS = ("newest", "updated", "relevance")
REASONS = ("spam", "offensive", "off_topic", "other")
FILTERS = ("q", "theme", "municipality_code", "stage", "kind", "outcome", "sort")
TEXT_FIELDS = ("title", "summary", "description", "organisation", "problem", "goals", "looking_for")


def themes() -> list[dict[str, str]]:
    return client.items_of(client.get("/api/v1/themes"))


def owner_ids(experiment: dict[str, Any]) -> set[str]:
    owners = experiment.get("owners") or []
    return {
        str(o.get("id") or o.get("member_id")) if isinstance(o, dict) else str(o) for o in owners
    }


def place_names(experiment: dict[str, Any]) -> list[str]:
    """The experiment's municipalities by name (Swedish on Swedish pages) in alphabetical order,
    from the reference data; a code the list does not know follows as it is."""
    known = places()
    swedish = current_language() == "sv"
    codes = [str(code) for code in experiment.get("municipality_codes") or []]
    names = sorted(
        known[code].name_sv if swedish else known[code].name_fi for code in codes if code in known
    )
    return names + [code for code in codes if code not in known]


def may_edit(experiment: dict[str, Any]) -> bool:
    me = session.session_identity()
    return me is not None and (me.is_coordinator or me.member_id in owner_ids(experiment))


@ui.get("/experiments")
def experiments() -> Page:
    query = {k: request.args.get(k, "").strip() for k in FILTERS}
    page = max(1, request.args.get("page", 1, type=int) or 1)
    answer = client.get("/api/v1/experiments", page=page, per_page=20, **query)
    total = int(answer.item("total", 0) or 0)
    return render(
        "experiments/list.html",
        query=query,
        items=client.items_of(answer),
        total=total,
        page=page,
        pages=max(1, -(-total // 20)),
        failed=not answer.ok,
        errors=answer.errors if not answer.ok else {},
        themes=themes(),
        municipalities=municipalities(),
        stages=STAGES,
        outcomes=OUTCOMES,
        kinds=KINDS,
        sorts=SORTS,
    )


def _experiment_body() -> dict[str, Any]:
    form = request.form
    body: dict[str, Any] = {name: form.get(name, "").strip() for name in TEXT_FIELDS}
    body["kind"] = form.get("kind") or "experiment"
    body["scale"] = form.get("scale") or "small"
    body["themes"] = form.getlist("themes")
    body["municipality_codes"] = form.getlist("municipality_codes")
    body["links"] = form_list("links")
    body["starts_on"] = form.get("starts_on") or None
    body["ends_on"] = form.get("ends_on") or None
    if not body["looking_for"]:
        body["looking_for"] = None
    return body


def _form_page(experiment: dict[str, Any] | None, errors: dict[str, list[str]]) -> Page:
    return render(
        "experiments/form.html",
        status=422 if errors else 200,
        experiment=experiment or {},
        errors=errors,
        themes=themes(),
        municipalities=municipalities(),
        kinds=KINDS,
        scales=SCALES,
    )


@ui.route("/experiments/new", methods=["GET", "POST"])
def experiment_new() -> Page:
    signed_in()
    if request.method == "POST":
        session.check_form_csrf()
        body = _experiment_body()
        answer = client.call("POST", "/api/v1/experiments", body=body)
        if answer.status == 201 and answer.item("id"):
            return redirect(
                link("experiment", experiment_id=answer.item("id"), notice="created"), 303
            )
        return _form_page(body, answer.errors)
    return _form_page(None, {})


def _experiment(experiment_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/experiments/{experiment_id}")
    if not answer.ok or not isinstance(answer.data, dict):
        from uskalla_kit import Problem

        raise Problem(answer.status if answer.status >= 400 else 502, "Not found", "")
    return dict(answer.data)


def _detail(experiment_id: Any, status: int = 200, **context: Any) -> Page:
    """The experiment's page: facts, description, evaluation, follow button, comments."""
    found = _experiment(str(experiment_id))
    comments = client.items_of(
        client.get(f"/api/v1/experiments/{experiment_id}/comments", per_page=100)
    )
    context.setdefault("errors", {})
    return render(
        "experiments/detail.html",
        status=status,
        x=found,
        comments=comments,
        editable=may_edit(found),
        stages=STAGES,
        reasons=REASONS,
        themes=themes(),
        places=place_names(found),
        **context,
    )


@ui.get("/experiments/<uuid:experiment_id>")
def experiment(experiment_id: Any) -> Page:
    return _detail(experiment_id)


@ui.route("/experiments/<uuid:experiment_id>/edit", methods=["GET", "POST"])
def experiment_edit(experiment_id: Any) -> Page:
    signed_in()
    found = _experiment(str(experiment_id))
    if request.method == "POST":
        session.check_form_csrf()
        body = _experiment_body()
        answer = client.call("PATCH", f"/api/v1/experiments/{experiment_id}", body=body)
        if answer.ok:
            return redirect(link("experiment", experiment_id=experiment_id, notice="saved"), 303)
        return _form_page({**found, **body}, answer.errors)
    return _form_page(found, {})


def _action(experiment_id: Any, path: str, body: Any, notice: str, method: str = "POST") -> Page:
    signed_in()
    session.check_form_csrf()
    answer = client.call(method, path, body=body)
    if answer.ok:
        target = link("experiment", experiment_id=experiment_id, notice=notice or None)
        return redirect(target + ("#follow" if not notice else ""), 303)
    return _detail(
        experiment_id,
        status=answer.status if 400 <= answer.status < 500 else 502,
        errors=answer.errors,
        comment_body=request.form.get("body", ""),
    )


@ui.post("/experiments/<uuid:experiment_id>/publish")
def experiment_publish(experiment_id: Any) -> Page:
    return _action(experiment_id, f"/api/v1/experiments/{experiment_id}/publish", {}, "published")


@ui.post("/experiments/<uuid:experiment_id>/stage")
def experiment_stage(experiment_id: Any) -> Page:
    body = {"stage": request.form.get("stage", "")}
    return _action(
        experiment_id, f"/api/v1/experiments/{experiment_id}/stage", body, "stage_changed"
    )


@ui.post("/experiments/<uuid:experiment_id>/follow")
def experiment_follow(experiment_id: Any) -> Page:
    """Follow (the button's state shows it: no notice needed)."""
    return _action(experiment_id, f"/api/v1/experiments/{experiment_id}/followers", None, "")


@ui.post("/experiments/<uuid:experiment_id>/unfollow")
def experiment_unfollow(experiment_id: Any) -> Page:
    path = f"/api/v1/experiments/{experiment_id}/followers/me"
    return _action(experiment_id, path, None, "", "DELETE")


@ui.post("/experiments/<uuid:experiment_id>/comments")
def experiment_comment(experiment_id: Any) -> Page:
    body = {"body": request.form.get("body", "")}
    return _action(
        experiment_id, f"/api/v1/experiments/{experiment_id}/comments", body, "commented"
    )


@ui.post("/experiments/<uuid:experiment_id>/comments/<uuid:comment_id>/report")
def comment_report(experiment_id: Any, comment_id: Any) -> Page:
    body = {"reason": request.form.get("reason", "")}
    return _action(experiment_id, f"/api/v1/comments/{comment_id}/reports", body, "reported")


@ui.post("/experiments/<uuid:experiment_id>/comments/<uuid:comment_id>/delete")
def comment_delete(experiment_id: Any, comment_id: Any) -> Page:
    return _action(experiment_id, f"/api/v1/comments/{comment_id}", None, "saved", "DELETE")


@ui.route("/experiments/<uuid:experiment_id>/evaluation", methods=["GET", "POST"])
def experiment_evaluation(experiment_id: Any) -> Page:
    signed_in()
    found = _experiment(str(experiment_id))
    errors: dict[str, list[str]] = {}
    evaluation = found.get("evaluation") or {}
    if request.method == "POST":
        session.check_form_csrf()
        form = request.form
        evaluation = {
            "outcome": form.get("outcome", ""),
            "rating": form.get("rating", type=int),
            **{
                k: form.get(k, "").strip()
                for k in ("what_worked", "what_failed", "lessons", "next_steps")
            },
        }
        answer = client.call(
            "PUT", f"/api/v1/experiments/{experiment_id}/evaluation", body=evaluation
        )
        if answer.ok:
            return redirect(
                link("experiment", experiment_id=experiment_id, notice="evaluated"), 303
            )
        errors = answer.errors
    return render(
        "experiments/evaluation.html",
        status=422 if errors else 200,
        x=found,
        evaluation=evaluation,
        outcomes=OUTCOMES,
        errors=errors,
    )
