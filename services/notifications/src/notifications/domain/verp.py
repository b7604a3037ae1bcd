"""VERP: each e-mail's envelope sender names its delivery, signed so no one can forge a bounce.

`b-<delivery id, 32 hex>-<HMAC-SHA256 of it, 20 hex>@BOUNCE_DOMAIN`: lower case only (some
servers fold the local part's case), 55 characters before the `@` (SMTP allows 64).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

_LOCAL = re.compile(r"b-([0-9a-f]{32})-([0-9a-f]{20})")


class Verp:
    def __init__(self, key: bytes, domain: str) -> None:
        self.key = key
        self.domain = domain.lower()

    def _mac(self, hex_id: str) -> str:
        return hmac.new(self.key, hex_id.encode(), hashlib.sha256).hexdigest()[:20]

    def address(self, delivery_id: uuid.UUID) -> str:
        return f"b-{delivery_id.hex}-{self._mac(delivery_id.hex)}@{self.domain}"

    def read(self, address: str) -> uuid.UUID | None:
        """The delivery a bounce address names, or None for one we did not sign."""
        local, _, domain = address.strip().strip("<>").lower().rpartition("@")
        match = _LOCAL.fullmatch(local)
        if domain != self.domain or match is None:
            return None
        if not hmac.compare_digest(self._mac(match[1]), match[2]):
            return None
        return uuid.UUID(match[1])
