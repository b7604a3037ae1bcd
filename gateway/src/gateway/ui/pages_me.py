"""My page: profile and subscriptions, data export download, erasing my data."""

from __future__ import annotations

import json

from flask import Response, current_app, g, make_response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from gateway import session
from gateway.compose import Composer
from gateway.ui import client, ui
from gateway.ui.common import form_bool, link, render, signed_in
from gateway.ui.pages_network import municipalities

Page = tuple[str, int] | BaseResponse
PROFILE_FIELDS = ("name", "organisation", "title", "municipality_code", "language")


@ui.route("/me", methods=["GET", "POST"])
def me() -> Page:
    signed_in()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        session.check_form_csrf()
        body: dict[str, object] = {k: request.form.get(k, "").strip() for k in PROFILE_FIELDS}
        for optional in ("title", "municipality_code"):
            body[optional] = body[optional] or None
        body["newsletter"] = form_bool("newsletter")
        body["invitations"] = form_bool("invitations")
        for listed in ("follows", "comments"):  # shown when the profile has them
            if listed in request.form.getlist("lists"):
                body[listed] = form_bool(listed)
        answer = client.call("PATCH", "/api/v1/members/me", body=body)
        if answer.ok:
            return redirect(link("me", notice="saved"), 303)
        errors = answer.errors
    profile = client.get("/api/v1/members/me")
    if profile.status == 401:
        from uskalla_kit import Problem

        raise Problem(401, "Unauthorized", "sign_in_required")
    return render(
        "me.html",
        status=422 if errors else 200,
        profile=profile.data if isinstance(profile.data, dict) else {},
        form=request.form if errors else None,
        errors=errors,
        municipalities=municipalities(),
    )


@ui.get("/me/export")
def me_export() -> Response:
    identity = signed_in()
    composer: Composer = current_app.extensions["gateway.composer"]
    document = composer.export(identity.member_id, g.request_id)
    response = Response(
        json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="uskalla-my-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@ui.route("/me/delete", methods=["GET", "POST"])
def me_delete() -> Page:
    signed_in()
    if request.method == "POST":
        session.check_form_csrf()
        if not form_bool("sure"):
            return render("me_delete.html", status=422, errors={"sure": ["required"]})
        answer = client.call("DELETE", "/api/v1/members/me")
        if answer.ok:
            response = make_response(*render("message.html", key="erased"))
            session.end_session(response)
            return response
        return render("me_delete.html", status=502, errors=answer.errors)
    return render("me_delete.html", errors={})
