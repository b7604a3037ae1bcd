"""The network's pages: what it is, joining, confirming, signing in and out, unsubscribing."""

from __future__ import annotations

from flask import Response, current_app, g, make_response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from gateway import session
from gateway.compose import Composer
from gateway.ui import client, ui
from gateway.ui.common import form_bool, link, render
from gateway.ui.i18n import current_language

Page = tuple[str, int] | BaseResponse


def municipalities() -> list[dict[str, str]]:
    items = client.items_of(client.get("/api/v1/municipalities"))
    return sorted(items, key=lambda m: str(m.get("name_fi", "")))


@ui.get("/")
def home() -> Page:
    latest = client.items_of(client.get("/api/v1/experiments", per_page=3, sort="newest"))
    return render("home.html", latest=latest)


@ui.route("/join", methods=["GET", "POST"])
def join() -> Page:
    errors: dict[str, list[str]] = {}
    form = request.form
    if request.method == "POST":
        session.check_form_csrf()
        body = {
            "email": form.get("email", "").strip(),
            "name": form.get("name", "").strip(),
            "organisation": form.get("organisation", "").strip(),
            "title": form.get("title", "").strip() or None,
            "municipality_code": form.get("municipality_code") or None,
            "language": form.get("language") or current_language(),
            "newsletter": form_bool("newsletter"),
            "invitations": form_bool("invitations"),
            "consent": form_bool("consent"),
        }
        answer = client.call("POST", "/api/v1/members", body=body)
        if answer.status == 202:
            return redirect(link("join_sent"), 303)
        errors = answer.errors
    return render(
        "join.html",
        status=422 if errors else 200,
        form=form,
        errors=errors,
        municipalities=municipalities(),
    )


@ui.get("/join/sent")
def join_sent() -> Page:
    return render("message.html", key="join_sent")


@ui.route("/confirm", methods=["GET", "POST"])
def confirm() -> Page:
    """GET only shows a button: mail scanners that open links must not confirm anybody."""
    token = request.values.get("token", "")
    if request.method == "POST":
        session.check_form_csrf()
        answer = client.call("POST", "/api/v1/members/confirm", body={"token": token})
        if answer.ok:
            return render("message.html", key="confirmed", member=answer.data)
        return render("confirm.html", status=400, token=token, failed=True)
    return render("confirm.html", token=token, failed=False)


@ui.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Page:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        session.check_form_csrf()
        email = request.form.get("email", "").strip()
        answer = client.call("POST", "/api/v1/auth/sign-in", body={"email": email})
        if answer.status == 202:
            return redirect(link("sign_in_sent"), 303)
        errors = answer.errors
    return render("sign_in.html", status=422 if errors else 200, errors=errors, form=request.form)


@ui.get("/sign-in/sent")
def sign_in_sent() -> Page:
    return render("message.html", key="sign_in_sent")


@ui.route("/sign-in/callback", methods=["GET", "POST"])
def sign_in_callback() -> Page:
    """The e-mailed link lands here and says whom it signs in; only the button (a form post
    carrying this browser's CSRF token) spends the one-time token. So a mail scanner opening
    the link spends nothing, and no other site can sign this browser in as someone else."""
    token = request.values.get("token", "")
    if request.method == "POST":
        session.check_form_csrf()
        answer = client.call("POST", "/api/v1/auth/token", body={"token": token})
        access = answer.item("access_token") if answer.ok else None
        if isinstance(access, str) and access:
            response = make_response(redirect(link("me"), 303))
            session.start_session(response, access, int(answer.item("expires_in", 3600)))
            return response
        return render("callback.html", status=400, member=None)
    composer: Composer = current_app.extensions["gateway.composer"]
    member = composer.sign_in_preview(token, g.request_id) if token else None
    if member is None:
        return render("callback.html", status=400, member=None)
    return render("callback.html", token=token, member=member)


@ui.post("/sign-out")
def sign_out() -> Response:
    session.check_form_csrf()
    response = make_response(redirect(link("home", notice="signed_out"), 303))
    session.end_session(response)
    return response


@ui.route("/unsubscribe", methods=["GET", "POST"])
def unsubscribe() -> Page:
    token = request.values.get("token", "")
    if request.method == "POST":
        session.check_form_csrf()
        answer = client.call(
            "POST", "/api/v1/unsubscribe", params={"token": token}, body={"token": token}
        )
        if answer.ok:
            return render("message.html", key="unsubscribed")
        return render("unsubscribe.html", status=400, token=token, failed=True)
    return render("unsubscribe.html", token=token, failed=False)
