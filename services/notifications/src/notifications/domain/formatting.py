"""Times and names as a reader in Finland expects them, in the reader's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")

GATHERING_KINDS = {
    "forum": {"fi": "foorumi", "sv": "forum", "en": "forum"},
    "tarinapaja": {"fi": "Tarinapaja", "sv": "berättelseverkstad", "en": "story workshop"},
    "network_meeting": {"fi": "verkostotapaaminen", "sv": "nätverksträff", "en": "network meeting"},
    "webinar": {"fi": "webinaari", "sv": "webbinarium", "en": "webinar"},
}
LANGUAGE_NAMES = {
    "fi": {"fi": "suomi", "sv": "finska", "en": "Finnish"},
    "sv": {"fi": "ruotsi", "sv": "svenska", "en": "Swedish"},
    "en": {"fi": "englanti", "sv": "engelska", "en": "English"},
}
_AT = {"fi": "klo", "sv": "kl.", "en": "at"}
_ZONE = {"fi": "Suomen aikaa", "sv": "finsk tid", "en": "Finnish time"}


def when(moment: datetime | str, language: str) -> str:
    """'12.5.2026 klo 13.00 (Suomen aikaa)': Helsinki time, said in the reader's language."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    local = moment.astimezone(HELSINKI)
    clock = f"{local.hour:02d}.{local.minute:02d}" if language != "en" else local.strftime("%H:%M")
    return f"{local.day}.{local.month}.{local.year} {_AT[language]} {clock} ({_ZONE[language]})"


def gathering_kind(kind: str, language: str) -> str:
    return GATHERING_KINDS.get(kind, {}).get(language, kind)


def language_name(code: str, language: str) -> str:
    return LANGUAGE_NAMES.get(code, {}).get(language, code)
