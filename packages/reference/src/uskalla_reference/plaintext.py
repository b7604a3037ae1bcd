"""The network's plain-text format to safe HTML (p, br, a only): comments, gathering summaries."""

# The format (DESIGN.md, issue 4); one renderer for every text written in it:
# - Everything the member wrote is escaped; the only markup produced is <p>, <br> and
#   <a href="..." rel="nofollow ugc noopener">. Hrefs are http(s) or mailto only.
# - \r\n and \r become \n. One line break is <br>; one or more blank (or whitespace-only)
#   lines start a new <p>. Leading/trailing blank lines are dropped; blank text gives "".
# - Links are found by linkify-it-py: http://, https://, mailto:, www. addresses
#   (href gets http://) and e-mail addresses (href gets mailto:). The full IANA TLD list
#   shipped with linkify-it-py is loaded so that www.example.dev and x@firma.app work.
# - Bare domains (example.com, kunta.fi/sivu) are NOT linked: the list of TLDs is long
#   enough that file names and abbreviations (README.md, main.py, ASP.NET) would become
#   links. Write www. or https:// to get a link.
# - ftp: and protocol-relative //host links, and IP-only fuzzy links, are turned off.
# - Trailing punctuation and closing quotes/brackets stay outside the link, even where
#   linkify-it-py keeps them (», ” and : at the end of a path); a closing ) ] } is
#   part of the URL only when balanced inside it (wiki/Foo_(bar)).
# - Link text longer than LINK_TEXT_MAX characters is shortened with "…"; the href is whole.
import re
from functools import cache
from html import escape

from linkify_it import LinkifyIt
from linkify_it.tlds import TLDS

LINK_TEXT_MAX = 60
LINK_REL = "nofollow ugc noopener"
_SAFE_HREF = ("http://", "https://", "mailto:")
_QUOTES = "\"'«»‹›“”„‘’‚"  # noqa: RUF001
# Punctuation and curly quotes that end a sentence rather than a URL; a straight quote
# or a closing bracket at the end is part of the URL only when balanced inside it.
_TRAILING = frozenset(".,;:!?«»‹›“”„‘’‚")  # noqa: RUF001
_STRAIGHT = frozenset("\"'")
_CLOSING = {")": "(", "]": "[", "}": "{"}
# Opening quotes and brackets right before a word. linkify-it-py finds no e-mail address
# after «, ”, ', [ or {, so the text it scans has them blanked out (same length, so the
# match offsets still point into the original).
_OPENERS = re.compile("(?<!\\S)[" + re.escape(_QUOTES + "([{<") + "]+")
# Invisible format characters (zero-width space, bidi overrides, ...) end a link, so a
# URL cannot hide a right-to-left override.
_FORMAT = re.compile("[\xad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Every link kept has one of these; lines without any skip linkify-it-py's slower scan.
_MAYBE_LINK = re.compile(r"https?:|mailto:|www\.|@", re.IGNORECASE)


@cache
def _linkify() -> LinkifyIt:
    """Build the link detector once; its regular expressions compile on first use."""
    linkify = LinkifyIt(options={"fuzzy_link": True, "fuzzy_email": True, "fuzzy_ip": False})
    linkify.add("ftp:", None).add("//", None)
    linkify.tlds([tld.lower() for tld in TLDS], keep_old=True)
    return linkify


def render_plain_text(text: str) -> str:
    """Render a text written in the plain-text format as safe HTML."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", text)).strip()
    if not text:
        return ""
    paragraphs = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        lines = (_render_line(line.strip()) for line in paragraph.split("\n"))
        paragraphs.append("<p>" + "<br>".join(lines) + "</p>")
    return "\n".join(paragraphs)


def _render_line(line: str) -> str:
    if not _MAYBE_LINK.search(line):
        return escape(line, quote=False)
    scan = _OPENERS.sub(lambda m: " " * len(m.group()), _FORMAT.sub(" ", line))
    out: list[str] = []
    pos = 0
    for match in _linkify().match(scan) or ():
        start, end = match.index, _trim(line, match.index, match.last_index)
        raw = line[start:end]
        if match.schema == "mailto:":
            href = raw if raw.lower().startswith("mailto:") else "mailto:" + raw
        elif match.schema:
            href = raw
        elif raw.lower().startswith("www."):
            href = "http://" + raw
        else:
            continue  # a bare domain
        if start < pos or not href.lower().startswith(_SAFE_HREF):
            continue
        out.append(escape(line[pos:start], quote=False))
        out.append(_anchor(href, raw))
        pos = end
    out.append(escape(line[pos:], quote=False))
    return "".join(out)


def _trim(line: str, start: int, end: int) -> int:
    """Move the end of a link back over punctuation and unbalanced quotes and brackets."""
    while end > start:
        char = line[end - 1]
        if not (
            char in _TRAILING
            or (char in _STRAIGHT and line.count(char, start, end) % 2)
            or (
                char in _CLOSING
                and line.count(char, start, end) > line.count(_CLOSING[char], start, end)
            )
        ):
            break
        end -= 1
    return end


def _anchor(href: str, text: str) -> str:
    if len(text) > LINK_TEXT_MAX:
        text = text[: LINK_TEXT_MAX - 1] + "…"
    return f'<a href="{escape(href)}" rel="{LINK_REL}">{escape(text, quote=False)}</a>'
