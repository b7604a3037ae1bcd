"""Gathering pages: the list, past gatherings, a gathering with registration, its calendar
link and, once it is over, what it left behind."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, redirect, request
from uskalla_kit import Problem
from werkzeug.wrappers import Response as BaseResponse

from gateway import session
from gateway.ui import client, ui
from gateway.ui.common import link, render, signed_in

Page = tuple[str, int] | BaseResponse


def my_status(gathering: dict[str, Any]) -> str | None:
    """The member's registration status if the service tells it (`my_registration`...)."""
    for key in ("my_registration", "registration", "my_status"):
        value = gathering.get(key)
        if isinstance(value, dict):
            value = value.get("status")
        if isinstance(value, str) and value:
            return value
    return None


def webcal_url() -> str:
    """The calendar feed as a `webcal://` link: calendar programs subscribe to it."""
    public = current_app.extensions["gateway.settings"].public_base_url
    host = public.split("://", 1)[-1].rstrip("/")
    return f"webcal://{host}/api/v1/gatherings/calendar.ics"


@ui.get("/gatherings")
def gatherings() -> Page:
    answer = client.get("/api/v1/gatherings", page=request.args.get("page", 1, type=int))
    return render(
        "gatherings/list.html",
        items=client.items_of(answer),
        failed=not answer.ok,
        webcal=webcal_url(),
    )


PAST_PER_PAGE = 20


@ui.get("/gatherings/past")
def gatherings_past() -> Page:
    """Gatherings that have ended, latest first, with their summaries (the network's memory)."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    answer = client.get("/api/v1/gatherings", when="past", page=page, per_page=PAST_PER_PAGE)
    total = answer.item("total", 0) if answer.ok else 0
    total = total if isinstance(total, int) else 0
    return render(
        "gatherings/past.html",
        items=client.items_of(answer),
        failed=not answer.ok,
        page=page,
        pages=max(1, -(-total // PAST_PER_PAGE)),
    )


def discussed(gathering: dict[str, Any]) -> list[dict[str, str]]:
    """The experiments a gathering discussed, titled through the public experiments API; one
    that is unknown, unpublished or cannot be read now is left out."""
    ids = gathering.get("experiment_ids")
    found: list[dict[str, str]] = []
    for experiment_id in ids if isinstance(ids, list) else []:
        try:
            answer = client.get(f"/api/v1/experiments/{uuid.UUID(str(experiment_id))}")
        except ValueError:  # not an id: nothing to ask for
            continue
        except Problem:  # the experiments service is down: the page still shows the rest
            continue
        if answer.ok and answer.item("published") is True and answer.item("title"):
            found.append({"id": str(experiment_id), "title": str(answer.item("title"))})
    return found


def _gathering(gathering_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/gatherings/{gathering_id}")
    if not answer.ok or not isinstance(answer.data, dict):
        raise Problem(answer.status if answer.status >= 400 else 502, "Not found", "")
    return dict(answer.data)


@ui.get("/gatherings/<uuid:gathering_id>")
def gathering(
    gathering_id: Any, errors: dict[str, list[str]] | None = None, status: int = 200
) -> Page:
    found = _gathering(str(gathering_id))
    return render(
        "gatherings/detail.html",
        status=status,
        g=found,
        my_status=my_status(found),
        experiments=discussed(found),
        errors=errors or {},
    )


@ui.post("/gatherings/<uuid:gathering_id>/register")
def gathering_register(gathering_id: Any) -> Page:
    signed_in()
    session.check_form_csrf()
    answer = client.call("POST", f"/api/v1/gatherings/{gathering_id}/registrations", body={})
    if answer.ok:
        notice = "waitlisted" if answer.item("status") == "waitlisted" else "registered"
        return redirect(link("gathering", gathering_id=gathering_id, notice=notice), 303)
    return gathering(gathering_id, answer.errors, answer.status if answer.status < 500 else 502)


@ui.post("/gatherings/<uuid:gathering_id>/cancel")
def gathering_cancel(gathering_id: Any) -> Page:
    signed_in()
    session.check_form_csrf()
    answer = client.call("DELETE", f"/api/v1/gatherings/{gathering_id}/registrations/me")
    if answer.ok:
        return redirect(link("gathering", gathering_id=gathering_id, notice="cancelled"), 303)
    return gathering(gathering_id, answer.errors, answer.status if answer.status < 500 else 502)


def gathering_request_form() -> dict[str, Any]:
    """The coordinators' gathering form as an API body."""
    from gateway.ui.common import to_utc

    form = request.form
    capacity = form.get("capacity", "").strip()
    return {
        "title": form.get("title", "").strip(),
        "kind": form.get("kind", ""),
        "description": form.get("description", "").strip(),
        "starts_at": to_utc(form.get("starts_at", "")),
        "ends_at": to_utc(form.get("ends_at", "")),
        "location": form.get("location", "").strip() or None,
        "online_url": form.get("online_url", "").strip() or None,
        "capacity": int(capacity) if capacity.isdigit() else (capacity or None),
        "registration_deadline": to_utc(form.get("registration_deadline", "")),
        "language": form.get("language", "fi"),
    }
