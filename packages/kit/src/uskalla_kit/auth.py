"""JWT verification that every service and the gateway do themselves: algorithms, iss, aud, exp."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import jwt
from flask import Flask, Response, current_app, g, request

from uskalla_kit.problems import Problem

ALGORITHMS = ["EdDSA"]
ROLES = ("member", "coordinator")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Identity:
    member_id: str
    role: str

    @property
    def is_coordinator(self) -> bool:
        return self.role == "coordinator"


@dataclass(frozen=True)
class Standing:
    """A member's current role and state as a service knows them (from the members events).

    A token carries the role of the moment it was issued and lives for its whole lifetime;
    a service checks each request's token against its standing, so a demotion, deactivation
    or erasure takes effect as soon as the event has arrived, not when the token expires."""

    role: str = "member"
    active: bool = True
    erased: bool = False


#: A service's look-up of a member's standing: None when it has not heard of them yet (their
#: "joined" event may arrive after their first request), in which case the token is trusted.
StandingLookup = Callable[[str], Standing | None]


def apply_standing(identity: Identity, standing: Standing | None) -> Identity:
    """The identity the token's holder has now: 401 for an erased or deactivated member; the
    member role for a coordinator who has been demoted. A promotion takes a new token."""
    if standing is None:
        return identity
    if standing.erased or not standing.active:
        raise no_such_member()
    if identity.is_coordinator and standing.role != "coordinator":
        return Identity(member_id=identity.member_id, role="member")
    return identity


class TokenVerifier:
    def __init__(self, public_key: str, *, issuer: str, audience: str) -> None:
        self.public_key = public_key
        self.issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> Identity:
        """The identity in a valid token; raises jwt.InvalidTokenError otherwise."""
        claims = jwt.decode(
            token,
            self.public_key,
            algorithms=ALGORITHMS,
            issuer=self.issuer,
            audience=self.audience,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        role = claims.get("role")
        if role not in ROLES:
            raise jwt.InvalidTokenError("unknown role")
        return Identity(member_id=str(claims["sub"]), role=str(role))


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


#: The challenge sent with a 401 for a token that was sent but is of no use (RFC 6750).
INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def no_such_member() -> Problem:
    """401 for a valid token whose member is not (or no longer) one: a token outlives the
    member's erasure or deactivation by its lifetime."""
    return Problem(
        401,
        "Unauthorized",
        "The token names no active member of the network.",
        headers=INVALID_TOKEN,
    )


def current_identity() -> Identity | None:
    """The caller's identity, verifying the bearer token once per request."""
    if "identity" not in g:
        token = bearer_token()
        if token is None:
            g.identity = None
        else:
            verifier: TokenVerifier = current_app.extensions["uskalla.tokens"]
            try:
                identity = verifier.verify(token)
            except jwt.InvalidTokenError as exc:
                raise Problem(
                    401,
                    "Unauthorized",
                    f"The token is not valid: {exc}",
                    headers=INVALID_TOKEN,
                ) from None
            lookup: StandingLookup | None = current_app.extensions.get("uskalla.standing")
            if lookup is not None:
                identity = apply_standing(identity, lookup(identity.member_id))
            g.identity = identity
    return cast(Identity | None, g.identity)


def require_identity(role: str | None = None) -> Identity:
    identity = current_identity()
    if identity is None:
        raise Problem(401, "Unauthorized", "Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    if role == "coordinator" and not identity.is_coordinator:
        raise Problem(403, "Forbidden", "Only coordinators may do this.")
    return identity


def init_app(app: Flask, verifier: TokenVerifier) -> None:
    app.extensions["uskalla.tokens"] = verifier

    @app.after_request
    def _no_store(response: Response) -> Response:
        """An answer to a request that said who is asking (a member's token, or the gateway's
        internal token on a member's behalf) may hold personal data: no cache keeps it."""
        identified = "Authorization" in request.headers or "X-Internal-Token" in request.headers
        if identified and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


def check_standing(app: Flask, lookup: StandingLookup) -> None:
    """Check every request's token against the member's current standing (see `Standing`)."""
    app.extensions["uskalla.standing"] = lookup
