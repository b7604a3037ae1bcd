"""JWT verification that every service and the gateway do themselves: algorithms, iss, aud, exp."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import jwt
from flask import Flask, current_app, g, request

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
    member's erasure by its lifetime."""
    return Problem(
        401, "Unauthorized", "The token names no member of the network.", headers=INVALID_TOKEN
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
                g.identity = verifier.verify(token)
            except jwt.InvalidTokenError as exc:
                raise Problem(
                    401,
                    "Unauthorized",
                    f"The token is not valid: {exc}",
                    headers=INVALID_TOKEN,
                ) from None
    return cast(Identity | None, g.identity)


def require_identity(role: str | None = None) -> Identity:
    identity = current_identity()
    if identity is None:
        raise Problem(401, "Unauthorized", "Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    if role == "coordinator" and not identity.is_coordinator:
        raise Problem(403, "Forbidden", "Only coordinators may do this.")
    return identity


def signed_in(role: str | None = None) -> Callable[[F], F]:
    """Decorator: the view runs only for a signed-in caller (with `role`, if given)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_identity(role)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def init_app(app: Flask, verifier: TokenVerifier) -> None:
    app.extensions["uskalla.tokens"] = verifier
