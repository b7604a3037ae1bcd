"""Access tokens a hostile caller might present: expired, foreign key, `alg: none`, wrong audience
or issuer. Each claims the coordinator role, so any acceptance would be a real hole."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def claims(member_id: str, role: str = "coordinator", **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "sub": member_id,
        "role": role,
        "iss": "uskalla-members",
        "aud": "uskalla",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=15)).timestamp()),
    } | overrides


def signed(private_pem: str, payload: dict[str, Any]) -> str:
    return jwt.encode(payload, private_pem, algorithm="EdDSA")


def foreign_key_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def alg_none(payload: dict[str, Any]) -> str:
    """Hand-built: PyJWT refuses to make such a token, which is the point."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."


def hostile_tokens(key_file: Path, member_id: str) -> dict[str, str]:
    """Every bad token, by name; all name a real member and the coordinator role."""
    key = key_file.read_text()
    past = datetime.now(UTC) - timedelta(hours=2)
    return {
        "expired": signed(
            key,
            claims(
                member_id,
                iat=int(past.timestamp()),
                exp=int((past + timedelta(minutes=15)).timestamp()),
            ),
        ),
        "other_key": signed(foreign_key_pem(), claims(member_id)),
        "alg_none": alg_none(claims(member_id)),
        "wrong_audience": signed(key, claims(member_id, aud="someone-else")),
        "wrong_issuer": signed(key, claims(member_id, iss="uskalla-evil")),
        "garbage": "not.a.jwt",
    }
