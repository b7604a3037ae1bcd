"""Newsletter bodies: Markdown to HTML with any raw HTML in the source escaped, never passed."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt


@cache
def _renderer() -> MarkdownIt:
    # "js-default" is CommonMark with raw HTML off: tags a coordinator types come out as text.
    return MarkdownIt("js-default", {"linkify": False, "typographer": False})


def to_html(source: str) -> str:
    return str(_renderer().render(source))
