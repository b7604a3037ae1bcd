"""The UI's languages: Finnish at /, Swedish at /sv/, English at /en/, with one catalog each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import request

LANGUAGES = ("fi", "sv", "en")
PREFIXES = {"fi": "", "sv": "/sv", "en": "/en"}
CATALOGS = Path(__file__).parent / "locales"


class Catalogs:
    """Message catalogs loaded once at app start; a missing text falls back to Finnish."""

    def __init__(self, directory: Path = CATALOGS) -> None:
        self.messages: dict[str, dict[str, str]] = {
            lang: json.loads((directory / f"{lang}.json").read_text(encoding="utf-8"))
            for lang in LANGUAGES
        }

    def has(self, lang: str, key: str) -> bool:
        return key in self.messages[lang] or key in self.messages["fi"]

    def text(self, lang: str, key: str, **values: Any) -> str:
        message = self.messages[lang].get(key) or self.messages["fi"].get(key) or key
        return message.format(**values) if values else message


def current_language() -> str:
    """The page's language, from the blueprint the URL matched (ui_fi, ui_sv, ui_en)."""
    blueprint = request.blueprint or ""
    if blueprint.startswith("ui_") and blueprint[3:] in LANGUAGES:
        return blueprint[3:]
    first = request.path.split("/")[1] if request.path.count("/") >= 1 else ""
    return first if first in ("sv", "en") else "fi"


def other_language_paths() -> list[tuple[str, str]]:
    """The current page in each language: [(lang, path)], for the language switcher.

    Always a path on this site, whatever the request's path: one leading "/", and what a
    browser could read as the start of another host ("//", "\\", the tabs and line breaks it
    drops from URLs) percent-encoded.
    """
    lang = current_language()
    path = request.path
    prefix = PREFIXES[lang]
    bare = (
        path[len(prefix) :]
        if prefix and path[: len(prefix) + 1] in (prefix, prefix + "/")
        else path
    )
    bare = "/" + quote(bare.lstrip("/\\"), safe="/:@!$&'()*+,;=")
    query = ("?" + request.query_string.decode()) if request.query_string else ""
    return [(other, (PREFIXES[other] + bare) + query) for other in LANGUAGES]
