"""Signed, tamper-proof tokens for links that work without signing in (e.g. unsubscribe).

They are made where the link is sent and never stored; they expire (`max_age`), and the
secret rotates without breaking links already sent: secrets are given newest first, tokens
are signed with the first and accepted under any.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from uskalla_kit.sealed import secrets_list


class SignedTokens:
    """HMAC-signed payloads under a purpose (salt), so one kind can never pass for another."""

    def __init__(
        self, secret: str | Sequence[str], purpose: str, *, max_age: int | None = None
    ) -> None:
        keys = secrets_list(secret) if isinstance(secret, str) else list(secret)
        # itsdangerous signs with the last key and accepts any.
        self._serializer = URLSafeTimedSerializer(list(reversed(keys)), salt=f"uskalla.{purpose}")
        self.max_age = max_age

    def make(self, payload: dict[str, Any]) -> str:
        return str(self._serializer.dumps(payload))

    def read(self, token: str) -> dict[str, Any] | None:
        """The payload, or None for a token that was not made with these secrets and purpose,
        or that is older than `max_age` seconds."""
        try:
            payload = self._serializer.loads(token, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is one
            return None
        except ValueError:  # a token from before they were timed: signed, but no timestamp
            return None
        return payload if isinstance(payload, dict) else None
