"""The member's workspace: own experiments, follows, registrations, interests; own comments."""

from __future__ import annotations

from typing import Any

from flask import redirect, request
from uskalla_kit import Problem
from werkzeug.wrappers import Response as BaseResponse

from gateway import session
from gateway.ui import client, ui
from gateway.ui.common import link, render, signed_in
from gateway.ui.pages_experiments import themes
from gateway.ui.pages_network import municipalities

Page = tuple[str, int] | BaseResponse
DIGESTS = ("off", "daily", "weekly")
#: Registration statuses that still hold a place (upcoming first, then the rest).
HOLDING = ("registered", "promoted", "waitlisted")


def _registrations() -> list[dict[str, Any]]:
    """The member's registrations, upcoming ones first (as the API orders them), with the
    gathering's details flattened: the API may nest them under `gathering`."""
    items = client.items_of(client.get("/api/v1/members/me/registrations", per_page=100))
    flat = []
    for item in items:
        if not isinstance(item, dict):
            continue
        nested = item.get("gathering")
        gathering: dict[str, Any] = nested if isinstance(nested, dict) else {}
        flat.append(
            {
                **gathering,
                **item,
                "gathering_id": item.get("gathering_id") or gathering.get("id"),
                "title": item.get("title") or gathering.get("title"),
                "starts_at": item.get("starts_at") or gathering.get("starts_at"),
            }
        )
    return flat


def _interests_body() -> dict[str, Any]:
    form = request.form
    return {
        "themes": form.getlist("themes"),
        "municipality_codes": form.getlist("municipality_codes"),
        "digest": form.get("digest", ""),
    }


def _workspace(
    interests: dict[str, Any], errors: dict[str, list[str]], status: int = 200
) -> tuple[str, int]:
    mine = client.get("/api/v1/experiments", owner="me", per_page=100, sort="updated")
    follows = client.get("/api/v1/members/me/follows", per_page=100)
    return render(
        "me_workspace.html",
        status=status,
        experiments=client.items_of(mine),
        experiments_failed=not mine.ok,
        follows=[f for f in client.items_of(follows) if isinstance(f, dict)],
        follows_failed=not follows.ok,
        registrations=_registrations(),
        interests=interests,
        digests=DIGESTS,
        errors=errors,
        themes=themes(),
        municipalities=municipalities(),
    )


@ui.get("/workspace")
def workspace() -> Page:
    signed_in()
    answer = client.get("/api/v1/members/me/interests")
    if answer.status == 401:
        raise Problem(401, "Unauthorized", "sign_in_required")
    interests = answer.data if answer.ok and isinstance(answer.data, dict) else {}
    return _workspace(interests, {})


@ui.post("/workspace/interests")
def workspace_interests() -> Page:
    signed_in()
    session.check_form_csrf()
    body = _interests_body()
    answer = client.call("PUT", "/api/v1/members/me/interests", body=body)
    if answer.ok:
        return redirect(link("workspace", notice="saved") + "#interests-h", 303)
    status = answer.status if 400 <= answer.status < 500 else 502
    return _workspace(body, answer.errors, status)


@ui.post("/workspace/follows/<uuid:experiment_id>/unfollow")
def workspace_unfollow(experiment_id: Any) -> Page:
    signed_in()
    session.check_form_csrf()
    answer = client.call("DELETE", f"/api/v1/experiments/{experiment_id}/followers/me")
    if answer.ok:
        return redirect(link("workspace", notice="unfollowed") + "#follows-h", 303)
    status = answer.status if 400 <= answer.status < 500 else 502
    interests = client.get("/api/v1/members/me/interests")
    current = interests.data if interests.ok and isinstance(interests.data, dict) else {}
    return _workspace(current, answer.errors, status)


def _own_comment(experiment_id: str, comment_id: str) -> dict[str, Any]:
    """The signed-in member's own visible comment on the experiment, or a 404 page."""
    me = signed_in()
    comments = client.items_of(
        client.get(f"/api/v1/experiments/{experiment_id}/comments", per_page=100)
    )
    for comment in comments:
        if isinstance(comment, dict) and str(comment.get("id")) == comment_id:
            author = comment.get("author") or {}
            if isinstance(author, dict) and str(author.get("id")) == me.member_id:
                return comment
            raise Problem(403, "Forbidden", "")
    raise Problem(404, "Not Found", "")


@ui.route(
    "/experiments/<uuid:experiment_id>/comments/<uuid:comment_id>/edit", methods=["GET", "POST"]
)
def comment_edit(experiment_id: Any, comment_id: Any) -> Page:
    comment = _own_comment(str(experiment_id), str(comment_id))
    back = link("experiment", experiment_id=experiment_id)
    errors: dict[str, list[str]] = {}
    body = str(comment.get("body") or "")
    if request.method == "POST":
        session.check_form_csrf()
        body = request.form.get("body", "")
        answer = client.call("PATCH", f"/api/v1/comments/{comment_id}", body={"body": body})
        if answer.ok:
            return redirect(
                link("experiment", experiment_id=experiment_id, notice="comment_edited")
                + f"#comment-{comment_id}",
                303,
            )
        errors = answer.errors
    return render(
        "me_comment_edit.html",
        status=422 if errors else 200,
        comment=comment,
        body=body,
        back=back,
        experiment_id=experiment_id,
        errors=errors,
    )
