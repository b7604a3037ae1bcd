"""E-mail templates: Jinja2, one file per kind and language, with subject/text/html blocks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from uskalla_reference.gatherings import kind_name, when

from notifications.domain.formatting import language_name

LANGUAGES = ("fi", "sv", "en")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(
            default=False, default_for_string=False, enabled_extensions=("html",)
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(when=when, gathering_kind=kind_name, language_name=language_name)
    return env


@cache
def html_environment() -> Environment:
    # The same templates, escaping every value: the html block never trusts its context.
    return environment().overlay(autoescape=True)


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    language = language if language in LANGUAGES else "fi"
    context = {"language": language, **context}
    template = environment().get_template(f"{kind}/{language}.j2")
    ctx = template.new_context(context)
    blocks = template.blocks
    subject = " ".join("".join(blocks["subject"](ctx)).split())
    text = "".join(blocks["text"](ctx)).strip() + "\n"
    html = None
    if "html" in blocks:
        html_template = html_environment().get_template(f"{kind}/{language}.j2")
        html = "".join(html_template.blocks["html"](html_template.new_context(context))).strip()
    return Rendered(subject=subject, text=text, html=html or None)
