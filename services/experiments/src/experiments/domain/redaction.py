"""Remove an erased member's name and e-mail address from free text."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[poistettu]"
#: Shorter needles would redact ordinary words; a full name or an address is never this short.
MIN_NEEDLE = 3


def redact(text: str, needles: Iterable[str]) -> str:
    """`text` with every case-insensitive occurrence of each needle replaced by REDACTED."""
    for needle in sorted(
        {n.strip() for n in needles if n and len(n.strip()) >= MIN_NEEDLE}, key=len, reverse=True
    ):
        text = re.sub(re.escape(needle), REDACTED, text, flags=re.IGNORECASE)
    return text


def contains_any(text: str, needles: Iterable[str]) -> bool:
    lowered = text.lower()
    return any(n.strip().lower() in lowered for n in needles if n and len(n.strip()) >= MIN_NEEDLE)
