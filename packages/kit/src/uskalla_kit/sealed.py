"""Sealed values: a one-time link token travels and rests encrypted between the service that
makes it and the one that mails it, so no outbox, inbox, dead letter, broker message or
delivery row holds a token that works.

Keys are operator secrets, newest first (`EVENT_TOKEN_KEYS="new,old"`): values are sealed
with the first and opened with any, so a key is rotated by putting the new one in front,
waiting for what was sealed with the old one to be spent (link lifetimes: days), then
dropping it. Fernet (AES-128-CBC with HMAC-SHA256) from `cryptography`; each secret is
stretched to a Fernet key with HKDF under a purpose, so one secret can serve one purpose only.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from uskalla_events.contracts import SEALED_PREFIX as PREFIX  # a reader tells sealed from plain


def derive_key(secret: str, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose only, stretched from an operator's secret with HKDF-SHA256."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=f"uskalla.{purpose}".encode()
    ).derive(secret.encode())


def _fernet(secret: str, purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, purpose)))


def secrets_list(value: str) -> list[str]:
    """Comma- or newline-separated secrets, newest first (a mounted Secret may end in one)."""
    return [s.strip() for s in value.replace("\n", ",").split(",") if s.strip()]


class Sealer:
    def __init__(self, secrets: Sequence[str], purpose: str) -> None:
        if not secrets:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([_fernet(s, purpose) for s in secrets])

    def seal(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The value, or None for what no current key sealed (or that is not sealed)."""
        if not sealed.startswith(PREFIX):
            return None
        try:
            return self._fernet.decrypt(sealed[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            return None


def event_token_sealer() -> Sealer:
    """The sealer of one-time link tokens in events, from `EVENT_TOKEN_KEYS[_FILE]` (newest
    first), which the producing services and notifications share."""
    from uskalla_kit.settings import env_secret

    keys = env_secret("EVENT_TOKEN_KEYS", dev_default="dev-event-token-key") or ""
    return Sealer(secrets_list(keys), "event-token")
