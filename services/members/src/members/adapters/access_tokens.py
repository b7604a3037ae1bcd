"""Access tokens: short-lived JWTs signed with the members service's Ed25519 key (EdDSA)."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from uskalla_kit.auth import key_id


class AccessTokens:
    """Issues the tokens every service verifies with the public half of the key, named in
    each token's `kid` (so verifiers pick it among the keys in rotation)."""

    algorithm = "EdDSA"

    def __init__(self, private_key: str, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.private_key = private_key
        key = serialization.load_pem_private_key(private_key.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("the signing key must be an Ed25519 private key")
        self.kid = key_id(key.public_key())
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    def issue(self, member_id: str, role: str, issued_at: datetime) -> str:
        claims = {
            "sub": member_id,
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued_at,
            "exp": issued_at + timedelta(seconds=self.ttl_seconds),
        }
        return jwt.encode(
            claims, self.private_key, algorithm=self.algorithm, headers={"kid": self.kid}
        )
