"""The newsletter's Markdown, one preset for the coordinator's preview and the sent mail.

CommonMark with raw HTML off ("js-default", which adds GFM tables and strikethrough): a tag a
coordinator types comes out as text, and only http(s), mailto and ordinary links are made."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt


@cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("js-default", {"linkify": False, "typographer": False})


def newsletter_html(source: str) -> str:
    """The HTML of a newsletter body: the same in the preview and in every reader's mail."""
    return str(_renderer().render(source))
