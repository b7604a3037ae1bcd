"""The browser session: an HttpOnly cookie holding the member's JWT, and CSRF tokens.

CSRF uses a signed double submit: a random `uskalla_csrf` cookie, and a token that is its
HMAC under the gateway's CSRF key. Forms carry the token in a hidden field, the page's JS in
the X-CSRF-Token header; a cross-site page can neither read the cookie nor forge the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import jwt
from flask import Response, current_app, g, request
from uskalla_kit import Identity, Problem
from uskalla_kit.auth import TokenVerifier, bearer_token

SESSION_COOKIE = "uskalla_session"
CSRF_COOKIE = "uskalla_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def behind_https() -> bool:
    """True when the client spoke HTTPS to us or to the proxy in front of us."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


def _key() -> bytes:
    key: bytes = current_app.extensions["gateway.settings"].csrf_key
    return key


def _sign(value: str) -> str:
    return hmac.new(_key(), value.encode(), hashlib.sha256).hexdigest()


def csrf_seed() -> str:
    """This browser's CSRF cookie value, minting one (set on the answer) when it has none."""
    if "csrf_seed" not in g:
        given = request.cookies.get(CSRF_COOKIE, "")
        if 16 <= len(given) <= 128 and given.isascii():
            g.csrf_seed = given
        else:
            g.csrf_seed = secrets.token_urlsafe(32)
            g.csrf_new = True
    seed: str = g.csrf_seed
    return seed


def csrf_token() -> str:
    """The token forms and scripts send back (templates put it in a field and a meta tag)."""
    return _sign(csrf_seed())


def rotate_csrf() -> None:
    """A new CSRF cookie (at sign-in and sign-out, so a planted one dies with the session)."""
    g.csrf_seed = secrets.token_urlsafe(32)
    g.csrf_new = True


def csrf_valid(given: str | None) -> bool:
    seed = request.cookies.get(CSRF_COOKIE, "")
    if not given or not seed:
        return False
    return hmac.compare_digest(given.encode(), _sign(seed).encode())


def check_form_csrf() -> None:
    """403 unless a state-changing form post carries this browser's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    if not csrf_valid(request.form.get(CSRF_FIELD)):
        raise Problem(403, "Forbidden", "The form's security token is missing or stale.")


def session_identity() -> Identity | None:
    """The identity in a valid session cookie; an invalid or expired one counts as none."""
    if "session_identity" not in g:
        g.session_identity = None
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            verifier: TokenVerifier = current_app.extensions["uskalla.tokens"]
            try:
                g.session_identity = verifier.verify(token)
            except jwt.InvalidTokenError:
                g.clear_session = True
    identity: Identity | None = g.session_identity
    return identity


def session_token() -> str | None:
    """The JWT of a valid session, for forwarding as `Authorization: Bearer`."""
    return request.cookies.get(SESSION_COOKIE) if session_identity() is not None else None


def api_authorization() -> str | None:
    """The Authorization header to forward for an API call, after the edge checks.

    A bearer token must be valid (401 otherwise). A session cookie is used only when there is
    no bearer token, and on a state-changing call only with the X-CSRF-Token header.
    """
    from uskalla_kit import current_identity

    if bearer_token() is not None:
        current_identity()  # raises 401 for a bad token before anything is forwarded
        return request.headers["Authorization"]
    token = session_token()
    if token is None:
        return None
    if request.method not in SAFE_METHODS and not csrf_valid(request.headers.get(CSRF_HEADER)):
        raise Problem(
            403,
            "Forbidden",
            f"A cookie-authenticated {request.method} needs the {CSRF_HEADER} header.",
        )
    return f"Bearer {token}"


def start_session(response: Response, access_token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        access_token,
        max_age=max_age,
        httponly=True,
        secure=behind_https(),
        samesite="Lax",
        path="/",
    )
    rotate_csrf()


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")
    rotate_csrf()


def finish(response: Response) -> Response:
    """after_request: set a newly minted CSRF cookie; drop a dead session cookie."""
    if g.get("csrf_new"):
        response.set_cookie(
            CSRF_COOKIE,
            g.csrf_seed,
            httponly=True,
            secure=behind_https(),
            samesite="Lax",
            path="/",
        )
    if g.get("clear_session") and SESSION_COOKIE not in str(response.headers.getlist("Set-Cookie")):
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")
    return response
