"""E-mail templates: Jinja2, one file per kind and language, with subject/text/html blocks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

LANGUAGES = ("fi", "sv", "en")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(
            default=False, default_for_string=False, enabled_extensions=("html",)
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    language = language if language in LANGUAGES else "fi"
    template = environment().get_template(f"{kind}/{language}.j2")
    ctx = template.new_context(context)
    blocks = template.blocks
    subject = "".join(blocks["subject"](ctx)).strip()
    text = "".join(blocks["text"](ctx)).strip() + "\n"
    html = None
    if "html" in blocks:
        html_env = environment().overlay(autoescape=True)
        html_template = html_env.get_template(f"{kind}/{language}.j2")
        html = "".join(html_template.blocks["html"](html_template.new_context(context))).strip()
    return Rendered(subject=subject, text=text, html=html or None)
