"""Passwordless sign-in: ask for a link, exchange its token for an access token."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from uskalla_kit import current_runtime
from uskalla_kit.openapi import documented

from members.entrypoints.http.requests import services
from members.entrypoints.schemas import (
    AccessTokenSchema,
    SignInSchema,
    StatusSchema,
    TokenSchema,
)

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/sign-in")
@documented(
    "E-mail a sign-in link to an active member; the same answer for any address",
    body=SignInSchema,
    responses={202: StatusSchema},
    tags=("auth",),
)
def sign_in(body: dict[str, Any]) -> tuple[dict[str, str], int]:
    with current_runtime().db.transaction() as session:
        services().intake.accept(session, "sign_in", {"email": body["email"]})
    return {"status": "sign_in_link_sent"}, 202


@bp.post("/token")
@documented(
    "Exchange a sign-in link's single-use token for an access token (JWT)",
    body=TokenSchema,
    responses={200: AccessTokenSchema},
    problems=(400,),
    tags=("auth",),
)
def token(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    with current_runtime().db.transaction() as session:
        answer = services().sign_in.exchange(session, body["token"])
    return answer, 200, {"Cache-Control": "no-store"}
