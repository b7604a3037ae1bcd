"""Signed, tamper-proof tokens for links that work without signing in (e.g. unsubscribe)."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer


class SignedTokens:
    """HMAC-signed payloads under a purpose (salt), so one kind can never pass for another."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=f"uskalla.{purpose}")

    def make(self, payload: dict[str, Any]) -> str:
        return str(self._serializer.dumps(payload))

    def read(self, token: str) -> dict[str, Any] | None:
        """The payload, or None for a token that was not made with this secret and purpose."""
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            return None
        return payload if isinstance(payload, dict) else None
