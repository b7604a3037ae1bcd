"""E-mail templates: one Jinja2 file per kind (subject/text/html blocks), worded by gettext."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache, partial
from importlib.resources import files
from io import BytesIO
from typing import Any

import css_inline
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from uskalla_reference.gatherings import kind_name, when
from uskalla_reference.markdown import newsletter_text, preheader

from notifications.domain.formatting import language_name

LANGUAGES = ("fi", "sv", "en")
#: The gettext domain: `translations/<language>/LC_MESSAGES/messages.po` in this package.
DOMAIN = "messages"
#: A template's <style> moved into style attributes, as mail clients need; what cannot be
#: (the narrow screens' @media rule) stays in the head. Nothing is ever fetched.
INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


@cache
def translations(language: str) -> Translations:
    """The language's catalog, compiled from its .po in memory: no .mo to keep in step.
    Untranslated and fuzzy entries are left out, so they read as the English msgid."""
    po = files("notifications") / "translations" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def lifetime(translations: Translations, *, hours: int = 0, minutes: int = 0) -> str:
    """How long a link works, in the largest unit that says it exactly ("7 days", "36 hours",
    "15 minutes"): never rounded, a reader must not be promised more than the link gives."""
    total = int(hours) * 60 + int(minutes)
    if total and total % (24 * 60) == 0:
        days = total // (24 * 60)
        return translations.ngettext("%(num)d day", "%(num)d days", days) % {"num": days}
    if total and total % 60 == 0:
        whole = total // 60
        return translations.ngettext("%(num)d hour", "%(num)d hours", whole) % {"num": whole}
    return translations.ngettext("%(num)d minute", "%(num)d minutes", total) % {"num": total}


@cache
def environment(language: str) -> Environment:
    """The templates in one language: the i18n extension with that language's catalog."""
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(
            default=False, default_for_string=False, enabled_extensions=("html",)
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    catalog = translations(language)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        when=when,
        gathering_kind=kind_name,
        language_name=language_name,
        # One newsletter, many readers: its text is made once, not once per message.
        plain_text=lru_cache(maxsize=8)(newsletter_text),
        preheader=lru_cache(maxsize=8)(preheader),
    )
    env.globals["lifetime"] = partial(lifetime, catalog)
    return env


@cache
def html_environment(language: str) -> Environment:
    # The same templates, escaping every value: the html block never trusts its context.
    return environment(language).overlay(autoescape=True)


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    language = language if language in LANGUAGES else "fi"
    context = {"language": language, **context}
    template = environment(language).get_template(f"{kind}.j2")
    ctx = template.new_context(context)
    blocks = template.blocks
    subject = " ".join("".join(blocks["subject"](ctx)).split())
    text = "".join(blocks["text"](ctx)).strip() + "\n"
    html = None
    if "html" in blocks:
        html_template = html_environment(language).get_template(f"{kind}.j2")
        html = "".join(html_template.blocks["html"](html_template.new_context(context))).strip()
        html = INLINER.inline(html) if "<style" in html else html
    return Rendered(subject=subject, text=text, html=html or None)
