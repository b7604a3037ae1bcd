"""Coordinators after a gathering: who came, and what it left behind (summary, materials,
the experiments discussed)."""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, request
from werkzeug.wrappers import Response as BaseResponse

from gateway import session
from gateway.ui import client, ui
from gateway.ui.common import coordinator, link, render

Page = tuple[str, int] | BaseResponse
#: An experiment named by its id or by its page's address (the id is in it).
EXPERIMENT_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
#: Registered members read for the attendance form, a hundred a page.
PAGES_MAX = 100


def materials_of(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """Materials from lines of 'title https://address' (the address last); the lines that are
    not so, by number."""
    found, wrong = [], []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.rsplit(None, 1)
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].startswith(("https://", "http://")):
            wrong.append(str(number))
            continue
        found.append({"title": parts[0].strip(), "url": parts[1]})
    return found, wrong


def experiment_ids_of(text: str) -> tuple[list[str], list[str]]:
    """Experiment ids from lines naming one each (its id or page address), in order, once."""
    found: list[str] = []
    wrong = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = EXPERIMENT_ID.search(line)
        if match is None:
            wrong.append(str(number))
        elif match.group().lower() not in found:
            found.append(match.group().lower())
    return found, wrong


def record_form() -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The record form as an API body, and what the gateway can tell is wrong with it."""
    materials, bad_materials = materials_of(request.form.get("materials", ""))
    experiments, bad_experiments = experiment_ids_of(request.form.get("experiments", ""))
    errors: dict[str, list[str]] = {}
    if bad_materials:
        errors["materials"] = [f"Not 'title https://address': line {', '.join(bad_materials)}."]
    if bad_experiments:
        errors["experiments"] = [f"No experiment address: line {', '.join(bad_experiments)}."]
    body = {
        "summary": request.form.get("summary", "").strip(),
        "materials": materials,
        "experiment_ids": experiments,
    }
    return body, errors


def registered(gathering_id: Any) -> list[dict[str, Any]]:
    """The gathering's registered members (the waitlisted did not have a place)."""
    found: list[dict[str, Any]] = []
    for page in range(1, PAGES_MAX + 1):
        answer = client.get(
            f"/api/v1/gatherings/{gathering_id}/registrations", page=page, per_page=100
        )
        items = client.items_of(answer)
        found += [r for r in items if isinstance(r, dict) and r.get("status") == "registered"]
        total = answer.item("total", 0)
        if not items or not isinstance(total, int) or page * 100 >= total:
            break
    return found


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _page(
    gathering_id: Any,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Page:
    found = client.get(f"/api/v1/gatherings/{gathering_id}")
    g = found.data if found.ok and isinstance(found.data, dict) else {}
    materials = listed(g.get("materials"))
    ids = listed(g.get("experiment_ids"))
    values = form or {
        "summary": str(g.get("summary") or ""),
        "materials": "\n".join(
            f"{m.get('title', '')} {m.get('url', '')}" for m in materials if isinstance(m, dict)
        ),
        "experiments": "\n".join(str(i) for i in ids),
    }
    return render(
        "coord/gathering_after.html",
        status=status,
        g=g,
        gathering_id=gathering_id,
        values=values,
        registrants=registered(gathering_id),
        errors=errors or {},
    )


@ui.get("/coordinators/gatherings/<uuid:gathering_id>/after")
def gathering_after(gathering_id: Any) -> Page:
    coordinator()
    return _page(gathering_id)


def _field_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The service's errors by the form's fields (materials.3.url is the materials field)."""
    shown: dict[str, list[str]] = {}
    for key, messages in errors.items():
        name = key.split(".")[0]
        shown.setdefault("experiments" if name == "experiment_ids" else name, []).extend(messages)
    return shown


@ui.post("/coordinators/gatherings/<uuid:gathering_id>/after/record")
def gathering_after_record(gathering_id: Any) -> Page:
    coordinator()
    session.check_form_csrf()
    body, errors = record_form()
    form = {k: request.form.get(k, "") for k in ("summary", "materials", "experiments")}
    if errors:
        return _page(gathering_id, errors, 422, form)
    answer = client.call("PUT", f"/api/v1/gatherings/{gathering_id}/record", body=body)
    if answer.ok:
        return redirect(link("gathering_after", gathering_id=gathering_id, notice="saved"), 303)
    status = answer.status if answer.status < 500 else 502
    return _page(gathering_id, _field_errors(answer.errors), status, form)


@ui.post("/coordinators/gatherings/<uuid:gathering_id>/after/attendance")
def gathering_after_attendance(gathering_id: Any) -> Page:
    coordinator()
    session.check_form_csrf()
    body = {"attended": list(dict.fromkeys(request.form.getlist("attended")))}
    answer = client.call("PUT", f"/api/v1/gatherings/{gathering_id}/attendance", body=body)
    if answer.ok:
        return redirect(link("gathering_after", gathering_id=gathering_id, notice="saved"), 303)
    status = answer.status if answer.status < 500 else 502
    return _page(gathering_id, answer.errors, status)
