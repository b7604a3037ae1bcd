"""Names of languages, said in the reader's language (kinds and times: `uskalla_reference`)."""

from __future__ import annotations

LANGUAGE_NAMES = {
    "fi": {"fi": "suomi", "sv": "finska", "en": "Finnish"},
    "sv": {"fi": "ruotsi", "sv": "svenska", "en": "Swedish"},
    "en": {"fi": "englanti", "sv": "engelska", "en": "English"},
}


def language_name(code: str, language: str) -> str:
    return LANGUAGE_NAMES.get(code, {}).get(language, code)
