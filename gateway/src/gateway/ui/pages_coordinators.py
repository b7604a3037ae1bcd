"""Coordinators' pages: moderation, gatherings, the newsletter composer, the member list,
suppressed addresses."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request
from uskalla_reference import gatherings
from uskalla_reference.municipalities import municipalities as places
from werkzeug.wrappers import Response as BaseResponse

from gateway import session
from gateway.ui import client, ui
from gateway.ui.common import coordinator, form_list, link, render, to_local_input, to_utc
from gateway.ui.i18n import current_language
from gateway.ui.pages_archive import mail_document
from gateway.ui.pages_experiments import themes
from gateway.ui.pages_gatherings import gathering_request_form
from gateway.ui.pages_network import municipalities

Page = tuple[str, int] | BaseResponse


def _csv(path: str, filename: str, **params: Any) -> Response:
    answer = client.call("GET", path, params=params, accept="text/csv")
    if not answer.ok:
        from uskalla_kit import Problem

        raise Problem(answer.status if answer.status >= 400 else 502, "CSV", "")
    response = Response(answer.raw, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@ui.get("/coordinators")
def coordinators() -> Page:
    coordinator()
    return render("coord/index.html")


@ui.get("/coordinators/moderation")
def moderation() -> Page:
    coordinator()
    answer = client.get("/api/v1/moderation/comments", per_page=100)
    return render("coord/moderation.html", items=client.items_of(answer), failed=not answer.ok)


@ui.post("/coordinators/comments/<uuid:comment_id>/<any(hide, restore):action>")
def moderate(comment_id: Any, action: str) -> BaseResponse:
    coordinator()
    session.check_form_csrf()
    client.call("POST", f"/api/v1/comments/{comment_id}/{action}", body={})
    notice = "hidden" if action == "hide" else "restored"
    return redirect(link("moderation", notice=notice), 303)


@ui.get("/coordinators/gatherings")
def gatherings_admin() -> Page:
    coordinator()
    drafts = client.get("/api/v1/gatherings", upcoming="false", status="draft", per_page=100)
    published = client.get("/api/v1/gatherings", upcoming="false", per_page=100)
    return render(
        "coord/gatherings.html",
        items=client.items_of(drafts) + client.items_of(published),
        failed=not (drafts.ok and published.ok),
    )


@ui.route("/coordinators/gatherings/new", methods=["GET", "POST"])
@ui.route("/coordinators/gatherings/<uuid:gathering_id>", methods=["GET", "POST"])
def gathering_form(gathering_id: Any = None) -> Page:
    coordinator()
    errors: dict[str, list[str]] = {}
    current: dict[str, Any] = {}
    if gathering_id is not None:
        found = client.get(f"/api/v1/gatherings/{gathering_id}")
        current = found.data if found.ok and isinstance(found.data, dict) else {}
    if request.method == "POST":
        session.check_form_csrf()
        body = gathering_request_form()
        if gathering_id is None:
            answer = client.call("POST", "/api/v1/gatherings", body=body)
        else:
            answer = client.call("PATCH", f"/api/v1/gatherings/{gathering_id}", body=body)
        if answer.ok:
            new_id = answer.item("id") or gathering_id
            return redirect(link("gathering_form", gathering_id=new_id, notice="saved"), 303)
        errors = answer.errors
        current = {**current, **{k: v for k, v in request.form.items() if k != "csrf_token"}}
    else:
        for key in ("starts_at", "ends_at", "registration_deadline"):
            current[key] = to_local_input(current.get(key))
    return render(
        "coord/gathering_form.html",
        status=422 if errors else 200,
        gathering_id=gathering_id,
        g=current,
        errors=errors,
        kinds=gatherings.KINDS,
    )


@ui.post("/coordinators/gatherings/<uuid:gathering_id>/publish")
def gathering_publish(gathering_id: Any) -> BaseResponse:
    coordinator()
    session.check_form_csrf()
    answer = client.call("POST", f"/api/v1/gatherings/{gathering_id}/publish", body={})
    notice = "published" if answer.ok else ""
    return redirect(link("gathering_form", gathering_id=gathering_id, notice=notice), 303)


@ui.post("/coordinators/gatherings/<uuid:gathering_id>/call-off")
def gathering_call_off(gathering_id: Any) -> BaseResponse:
    coordinator()
    session.check_form_csrf()
    answer = client.call("POST", f"/api/v1/gatherings/{gathering_id}/cancel", body={})
    notice = "cancelled" if answer.ok else ""
    return redirect(link("gathering_form", gathering_id=gathering_id, notice=notice), 303)


@ui.get("/coordinators/gatherings/<uuid:gathering_id>/registrations")
def gathering_registrants(gathering_id: Any) -> Page:
    """Who is coming as a page: registered first, then the waitlist in order."""
    coordinator()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    found = client.get(f"/api/v1/gatherings/{gathering_id}")
    answer = client.get(f"/api/v1/gatherings/{gathering_id}/registrations", page=page, per_page=100)
    total = int(answer.item("total", 0) or 0)
    return render(
        "coord/registrations.html",
        g=found.data if found.ok and isinstance(found.data, dict) else {},
        gathering_id=gathering_id,
        items=client.items_of(answer),
        total=total,
        page=page,
        pages=max(1, -(-total // 100)),
        failed=not answer.ok,
    )


@ui.get("/coordinators/gatherings/<uuid:gathering_id>/registrations.csv")
def gathering_registrations(gathering_id: Any) -> Response:
    coordinator()
    return _csv(f"/api/v1/gatherings/{gathering_id}/registrations", "registrations.csv")


@ui.get("/coordinators/members")
def members() -> Page:
    coordinator()
    query = {k: request.args.get(k, "").strip() for k in ("q", "municipality_code", "newsletter")}
    page = max(1, request.args.get("page", 1, type=int) or 1)
    answer = client.get("/api/v1/members", page=page, per_page=50, **query)
    total = int(answer.item("total", 0) or 0)
    return render(
        "coord/members.html",
        items=client.items_of(answer),
        total=total,
        page=page,
        pages=max(1, -(-total // 50)),
        query=query,
        municipalities=municipalities(),
        failed=not answer.ok,
    )


@ui.get("/coordinators/members.csv")
def members_csv() -> Response:
    coordinator()
    query = {k: request.args.get(k, "").strip() for k in ("q", "municipality_code", "newsletter")}
    return _csv("/api/v1/members", "members.csv", **query)


@ui.route("/coordinators/newsletters", methods=["GET", "POST"])
def newsletters() -> Page:
    coordinator()
    if request.method == "POST":
        session.check_form_csrf()
        answer = client.call("POST", "/api/v1/newsletters", body=_newsletter_body())
        if answer.ok and answer.item("id"):
            return redirect(
                link("newsletter", newsletter_id=answer.item("id"), notice="created"), 303
            )
        return _composer(None, {}, answer.errors)
    answer = client.get("/api/v1/newsletters", per_page=50)
    return render("coord/newsletters.html", items=client.items_of(answer), failed=not answer.ok)


def _newsletter_body() -> dict[str, Any]:
    form = request.form
    return {
        "subject": form.get("subject", "").strip(),
        "body": form.get("body", ""),
        "language": form.get("language") or "all",
        "municipality_codes": form_list("municipality_codes"),
        "region_codes": form.getlist("region_codes"),
        "themes": form.getlist("themes"),
        "public": form.get("public") == "on",
    }


def regions() -> list[tuple[str, str]]:
    """Every region (maakunta) as a choice: its code and its name in the page's language."""
    sv = current_language() == "sv"
    named = {m.region_code: m.region_sv if sv else m.region_fi for m in places().values()}
    return sorted(named.items(), key=lambda item: item[1])


def _composer(newsletter_id: Any, letter: dict[str, Any], errors: dict[str, list[str]]) -> Page:
    return render(
        "coord/newsletter.html",
        status=422 if errors else 200,
        newsletter_id=newsletter_id,
        n=letter,
        errors=errors,
        send_at=to_local_input(letter.get("send_at")),
        themes=themes(),
        municipalities=municipalities(),
        regions=regions(),
    )


def _preview(newsletter_id: Any, letter: dict[str, Any]) -> Page:
    """The draft as notifications renders the mail (the same layout, the same HTML), shown as
    the e-mail document itself; a draft notifications refuses comes back with its errors."""
    language = letter.get("language")
    answer = client.call(
        "POST",
        "/api/v1/newsletters/preview",
        body={
            "subject": letter.get("subject") or "",
            "body": letter.get("body") or "",
            "language": language if language in ("fi", "sv", "en") else current_language(),
        },
    )
    html = answer.item("html")
    if answer.ok and isinstance(html, str):
        return mail_document(html)
    return _composer(newsletter_id, letter, answer.errors)


@ui.get("/coordinators/newsletters/new")
def newsletter_new() -> Page:
    coordinator()
    return _composer(None, {"language": "all"}, {})


@ui.route("/coordinators/newsletters/<uuid:newsletter_id>", methods=["GET", "POST"])
def newsletter(newsletter_id: Any) -> Page:
    coordinator()
    found = client.get(f"/api/v1/newsletters/{newsletter_id}")
    letter = dict(found.data) if found.ok and isinstance(found.data, dict) else {}
    if request.method == "POST":
        session.check_form_csrf()
        body = _newsletter_body()
        if request.form.get("action") == "preview":
            return _preview(newsletter_id, {**letter, **body})
        answer = client.call("PATCH", f"/api/v1/newsletters/{newsletter_id}", body=body)
        if answer.ok:
            return redirect(link("newsletter", newsletter_id=newsletter_id, notice="saved"), 303)
        return _composer(newsletter_id, {**letter, **body}, answer.errors)
    return _composer(newsletter_id, letter, {})


@ui.post("/coordinators/newsletters/<uuid:newsletter_id>/schedule")
def newsletter_schedule(newsletter_id: Any) -> Page:
    coordinator()
    session.check_form_csrf()
    path = f"/api/v1/newsletters/{newsletter_id}/schedule"
    if request.form.get("action") == "unschedule":
        answer, notice = client.call("DELETE", path), "unscheduled"
    else:
        send_at = to_utc(request.form.get("send_at", "").strip())
        answer, notice = client.call("POST", path, body={"send_at": send_at}), "scheduled"
    if answer.ok:
        return redirect(link("newsletter", newsletter_id=newsletter_id, notice=notice), 303)
    found = client.get(f"/api/v1/newsletters/{newsletter_id}")
    letter = dict(found.data) if found.ok and isinstance(found.data, dict) else {}
    return _composer(newsletter_id, letter, answer.errors)


@ui.post("/coordinators/newsletters/<uuid:newsletter_id>/<any(test, send, cancel):action>")
def newsletter_action(newsletter_id: Any, action: str) -> Page:
    coordinator()
    session.check_form_csrf()
    answer = client.call("POST", f"/api/v1/newsletters/{newsletter_id}/{action}", body={})
    if answer.ok:
        notice = {"test": "test_sent", "send": "sending", "cancel": "cancelled"}[action]
        return redirect(link("newsletter", newsletter_id=newsletter_id, notice=notice), 303)
    found = client.get(f"/api/v1/newsletters/{newsletter_id}")
    letter = dict(found.data) if found.ok and isinstance(found.data, dict) else {}
    return _composer(newsletter_id, letter, answer.errors)


@ui.get("/coordinators/suppressions")
def suppressions() -> Page:
    coordinator()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    answer = client.get("/api/v1/suppressions", page=page, per_page=50)
    kept = client.get("/api/v1/bounces/unread", per_page=20)
    total = int(answer.item("total", 0) or 0)
    return render(
        "coord/suppressions.html",
        items=client.items_of(answer),
        total=total,
        page=page,
        pages=max(1, -(-total // 50)),
        kept=client.items_of(kept),
        kept_total=int(kept.item("total", 0) or 0),
        failed=not (answer.ok and kept.ok),
    )


@ui.post("/coordinators/suppressions/<uuid:suppression_id>/lift")
def suppression_lift(suppression_id: Any) -> BaseResponse:
    coordinator()
    session.check_form_csrf()
    answer = client.call("DELETE", f"/api/v1/suppressions/{suppression_id}")
    return redirect(link("suppressions", notice="lifted" if answer.ok else ""), 303)
