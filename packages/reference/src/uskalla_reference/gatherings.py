"""The network's gatherings as people read about them: kinds, and times said in Finnish time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")
LANGUAGES = ("fi", "sv", "en")

#: The kinds of gathering, each named in every language of the UI.
KIND_NAMES = {
    "forum": {"fi": "foorumi", "sv": "forum", "en": "forum"},
    "tarinapaja": {"fi": "Tarinapaja", "sv": "berättelseverkstad", "en": "story workshop"},
    "network_meeting": {"fi": "verkostotapaaminen", "sv": "nätverksträff", "en": "network meeting"},
    "webinar": {"fi": "webinaari", "sv": "webbinarium", "en": "webinar"},
}
KINDS = tuple(KIND_NAMES)

_AT = {"fi": "klo", "sv": "kl.", "en": "at"}
_ZONE = {"fi": "Suomen aikaa", "sv": "finsk tid", "en": "Finnish time"}


def kind_name(kind: str, language: str) -> str:
    return KIND_NAMES.get(kind, {}).get(language, kind)


def parse_time(moment: datetime | str) -> datetime:
    """An aware datetime from one or from its ISO 8601 form (a trailing Z included)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment


def when(moment: datetime | str, language: str) -> str:
    """'12.5.2026 klo 13.00 (Suomen aikaa)': Helsinki time, said in the reader's language."""
    local = parse_time(moment).astimezone(HELSINKI)
    clock = f"{local.hour:02d}:{local.minute:02d}" if language == "en" else f"{local:%H.%M}"
    return f"{local.day}.{local.month}.{local.year} {_AT[language]} {clock} ({_ZONE[language]})"
