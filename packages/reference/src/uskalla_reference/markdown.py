"""The newsletter's Markdown, one preset for the coordinator's preview and the sent mail.

CommonMark with raw HTML off ("js-default", which adds GFM tables and strikethrough): a tag a
coordinator types comes out as text, and only http(s), mailto and ordinary links are made.
The same parse gives the mail's text part as plain text a reader can read (no `#` or `**`)
and its preheader (the opening words, shown after the subject in an inbox)."""

from __future__ import annotations

import itertools
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

#: How a heading of each level is underlined in the text part (deeper ones are not).
UNDERLINE = {"h1": "=", "h2": "-"}
PREHEADER_LENGTH = 120


@cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("js-default", {"linkify": False, "typographer": False})


def newsletter_html(source: str) -> str:
    """The HTML of a newsletter body: the same in the preview and in every reader's mail."""
    return str(_renderer().render(source))


def newsletter_text(source: str) -> str:
    """The body as plain text: headings underlined, list items and quotes marked, a link's
    address after its words, emphasis left out; blocks apart by a blank line, the items of a
    tight list and the rows of a table by a line break."""
    writer = _PlainText()
    for token in _renderer().parse(source):
        handle = getattr(writer, token.type, None)
        if handle is not None:
            handle(token)
    return "".join(writer.out)


class _PlainText:
    """Writes the text part token by token (a method per token type it does not ignore)."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.prefixes: list[str] = []  # "> " for a quote, "- " / "1. " for a list item
        self.numbers: list[int | None] = []  # each open list's next number (None: bullets)
        self.row: list[str] | None = None  # the cells of a table row being read
        self.heading = ""
        self.close = False  # the next block follows on the next line (no blank line)

    def block(self, text: str) -> None:
        if self.out:
            self.out.append("\n" if self.close else "\n\n")
        self.out.append(_prefixed(text, self.prefixes))
        self.close = False

    def bullet_list_open(self, token: Token) -> None:
        self.numbers.append(None)

    def ordered_list_open(self, token: Token) -> None:
        self.numbers.append(int(str(token.attrGet("start") or 1)))

    def bullet_list_close(self, token: Token) -> None:
        self.numbers.pop()
        self.close = self.close and bool(self.numbers)  # after the outermost list, a blank line

    ordered_list_close = bullet_list_close

    def list_item_open(self, token: Token) -> None:
        number = self.numbers[-1]
        self.prefixes.append("- " if number is None else f"{number}. ")
        if number is not None:
            self.numbers[-1] = number + 1

    def blockquote_open(self, token: Token) -> None:
        self.prefixes.append("> ")

    def list_item_close(self, token: Token) -> None:
        self.prefixes.pop()

    blockquote_close = list_item_close

    def heading_open(self, token: Token) -> None:
        self.heading = token.tag

    def inline(self, token: Token) -> None:
        text = _inline(token.children or [])
        if self.row is not None:
            self.row.append(text)
            return
        if self.heading in UNDERLINE:
            text = f"{text}\n{UNDERLINE[self.heading] * len(text)}"
        self.heading = ""
        self.block(text)
        # A list item's marker goes on its first block only; its later blocks are indented.
        self.prefixes = [p if p == "> " else " " * len(p) for p in self.prefixes]

    def paragraph_close(self, token: Token) -> None:
        if token.hidden:
            self.close = True  # a tight list: its next item on the next line

    def fence(self, token: Token) -> None:
        self.block("\n".join("    " + line for line in token.content.rstrip("\n").split("\n")))

    code_block = fence

    def hr(self, token: Token) -> None:
        self.block("-" * 20)

    def tr_open(self, token: Token) -> None:
        self.row = []

    def tr_close(self, token: Token) -> None:
        self.block(" | ".join(self.row or []))
        self.row, self.close = None, True

    def table_close(self, token: Token) -> None:
        self.close = False


def preheader(source: str) -> str:
    """The body's opening words, its headings left out, as one line of at most
    `PREHEADER_LENGTH` characters."""
    tokens = _renderer().parse(source)
    texts = [
        _inline(t.children)
        for before, t in itertools.pairwise(tokens)
        if t.type == "inline" and t.children is not None and before.type == "paragraph_open"
    ]
    words = " ".join(" ".join(texts).split())
    if len(words) <= PREHEADER_LENGTH:
        return words
    return words[: PREHEADER_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def _inline(children: list[Token]) -> str:
    out: list[str] = []
    href = ""
    start = 0
    for child in children:
        if child.type in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            out.append(child.content)
        elif child.type == "link_open":
            href, start = str(child.attrGet("href") or ""), len(out)
        elif child.type == "link_close" and "".join(out[start:]) != _shown(href):
            out.append(f" ({href})")
    return "".join(out)


def _prefixed(text: str, prefixes: list[str]) -> str:
    """The lines of a block under its quotes and list items: the marker on the first line,
    the marker's width of spaces on the lines after (so a wrapped item stays in line)."""
    first = "".join(prefixes)
    rest = "".join(p if p == "> " else " " * len(p) for p in prefixes)
    lines = text.split("\n")
    return "\n".join([first + lines[0], *(rest + line for line in lines[1:])])


def _shown(href: str) -> str:
    """What a link's words may be to say its address already (no need to add it)."""
    return href.removeprefix("mailto:")
