"""Comment moderation rules: automatic hiding after reports by different members."""

from __future__ import annotations

#: A comment is hidden automatically once this many different members have reported it.
AUTO_HIDE_REPORTS = 3


def should_auto_hide(distinct_reporters: int) -> bool:
    return distinct_reporters >= AUTO_HIDE_REPORTS
