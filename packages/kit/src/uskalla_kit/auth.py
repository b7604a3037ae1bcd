"""JWT verification that every service and the gateway do themselves: algorithms, iss, aud, exp,
and the signing key named by the token's `kid` among every key in rotation."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
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


PEM_PUBLIC_KEY = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


def key_id(key: Ed25519PublicKey) -> str:
    """A key's `kid`: its RFC 7638 JWK thumbprint, so that no operator has to name keys."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=").decode()


def public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """The keys tokens may be signed with, by `kid`: `text` (JWT_PUBLIC_KEY) is one PEM public
    key, several one after another (as in a CA bundle), or a JWKS document (JSON). A JWK's own
    `kid` is kept; keys without one are named by their thumbprint."""
    keys: dict[str, Ed25519PublicKey] = {}
    if text.lstrip().startswith("{"):
        for jwk in jwt.PyJWKSet.from_json(text).keys:
            if not isinstance(jwk.key, Ed25519PublicKey):
                raise ValueError(f"JWKS key {jwk.key_id}: only Ed25519 public keys (EdDSA)")
            keys[jwk.key_id or key_id(jwk.key)] = jwk.key
        return keys
    for pem in PEM_PUBLIC_KEY.findall(text):
        key = serialization.load_pem_public_key(pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("only Ed25519 public keys (EdDSA)")
        keys[key_id(key)] = key
    if text.strip() and not keys:
        raise ValueError("no PEM public key or JWKS")
    return keys


class TokenVerifier:
    """Checks tokens against every key in rotation: the one the token's `kid` names (a token
    without one, issued before kids, is tried under each)."""

    def __init__(self, public_key: str, *, issuer: str, audience: str) -> None:
        self.keys = public_keys(public_key)
        self.issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> Identity:
        """The identity in a valid token; raises jwt.InvalidTokenError otherwise."""
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            candidates = list(self.keys.values())
        elif kid in self.keys:
            candidates = [self.keys[kid]]
        else:
            raise jwt.InvalidTokenError("signed with a key not in rotation")
        error = jwt.InvalidTokenError("no key to verify it with")
        for key in candidates:
            try:
                return self._identity(self._claims(token, key))
            except jwt.InvalidSignatureError as exc:
                error = exc
        raise error

    def _claims(self, token: str, key: Ed25519PublicKey) -> dict[str, Any]:
        return jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=self.issuer,
            audience=self.audience,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )

    @staticmethod
    def _identity(claims: dict[str, Any]) -> Identity:
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
