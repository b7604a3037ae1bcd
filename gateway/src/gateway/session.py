"""The browser session: an HttpOnly cookie holding the member's JWT, and CSRF tokens.

CSRF uses a signed double submit: a random `uskalla_csrf` cookie, and a token that is the HMAC,
under the gateway's CSRF key, of that seed and (when signed in) a hash of the session cookie.
Forms carry the token in a hidden field, the page's JS in the X-CSRF-Token header; a cross-site
page can neither read the cookie nor forge the HMAC, and a token minted for one session (or for
nobody) is no good for another. Over HTTPS both cookies are `__Host-` cookies: Secure, Path=/,
no Domain, so no sibling host can plant them.
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
#: The names' prefix when the site is served over HTTPS (RFC 6265bis §4.1.3.2).
HOST_PREFIX = "__Host-"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Pages that show personal data or carry a link's token, even to a browser not signed in.
PERSONAL_PAGES = frozenset(
    {"me", "me_export", "me_delete", "confirm", "unsubscribe", "sign_in_callback"}
)


def secure_site() -> bool:
    """Whether the configured public address is HTTPS (never a client's header's say)."""
    secure: bool = current_app.extensions["gateway.settings"].secure
    return secure


def session_cookie() -> str:
    return HOST_PREFIX + SESSION_COOKIE if secure_site() else SESSION_COOKIE


def csrf_cookie() -> str:
    return HOST_PREFIX + CSRF_COOKIE if secure_site() else CSRF_COOKIE


def _key() -> bytes:
    key: bytes = current_app.extensions["gateway.settings"].csrf_key
    return key


def _sign(seed: str) -> str:
    """The token for a CSRF seed, bound to the session cookie this request carries."""
    session = session_token() or ""
    bound = hashlib.sha256(session.encode()).hexdigest() if session else ""
    return hmac.new(_key(), f"{seed}|{bound}".encode(), hashlib.sha256).hexdigest()


def csrf_seed() -> str:
    """This browser's CSRF cookie value, minting one (set on the answer) when it has none."""
    if "csrf_seed" not in g:
        given = request.cookies.get(csrf_cookie(), "")
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
    seed = request.cookies.get(csrf_cookie(), "")
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
        token = request.cookies.get(session_cookie())
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
    return request.cookies.get(session_cookie()) if session_identity() is not None else None


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
        session_cookie(),
        access_token,
        max_age=max_age,
        httponly=True,
        secure=secure_site(),
        samesite="Lax",
        path="/",
    )
    rotate_csrf()


def end_session(response: Response) -> None:
    _drop_session(response)
    rotate_csrf()


def _drop_session(response: Response) -> None:
    response.delete_cookie(
        session_cookie(), path="/", secure=secure_site(), httponly=True, samesite="Lax"
    )


def finish(response: Response) -> Response:
    """after_request: set a newly minted CSRF cookie; drop a dead session cookie; no cache
    may keep an answer for a browser with a session (page or API), a personal page, or an
    answer that sets a cookie."""
    if g.get("csrf_new"):
        response.set_cookie(
            csrf_cookie(),
            g.csrf_seed,
            httponly=True,
            secure=secure_site(),
            samesite="Lax",
            path="/",
        )
    name = session_cookie()
    if g.get("clear_session") and name not in str(response.headers.getlist("Set-Cookie")):
        _drop_session(response)
    page = (request.endpoint or "").rpartition(".")[2]
    if (
        (request.cookies.get(name) and page != "static")
        or page in PERSONAL_PAGES
        or response.headers.get("Set-Cookie")
    ):
        response.headers["Cache-Control"] = "no-store"
    return response
