"""Table and property tests for the plain-text comment format."""

# ruff: noqa: RUF001 (Finnish and Swedish quotes and dashes are the point here)

import random
import re
import unicodedata
from html.parser import HTMLParser

import pytest
from experiments.domain.plaintext import LINK_REL, render_comment

LONG_URL = "https://www.kokeilunpaikka.fi/fi/kokeilu/" + "digitaalinen-kunta-" * 5 + "2024"


def a(href: str, text: str | None = None) -> str:
    """The expected anchor; href and text are given already escaped."""
    return f'<a href="{href}" rel="{LINK_REL}">{href if text is None else text}</a>'


CASES = [
    # empty, whitespace, line breaks and paragraphs
    ("", ""),
    ("   \n\t \r\n  ", ""),
    ("Hei", "<p>Hei</p>"),
    ("rivi 1\nrivi 2", "<p>rivi 1<br>rivi 2</p>"),
    ("rivi 1\r\nrivi 2", "<p>rivi 1<br>rivi 2</p>"),
    ("rivi 1\rrivi 2", "<p>rivi 1<br>rivi 2</p>"),
    ("kappale 1\n\nkappale 2", "<p>kappale 1</p>\n<p>kappale 2</p>"),
    ("kappale 1\r\n\r\nkappale 2", "<p>kappale 1</p>\n<p>kappale 2</p>"),
    ("yksi\n\n\n\n \t\nkaksi", "<p>yksi</p>\n<p>kaksi</p>"),
    ("\n\n  alku ja loppu  \n\n\n", "<p>alku ja loppu</p>"),
    ("a\nb\n\nc\nd", "<p>a<br>b</p>\n<p>c<br>d</p>"),
    ("rivi  \n  sisennetty", "<p>rivi<br>sisennetty</p>"),
    # Finnish and Swedish text, entities
    ("Hyvää päivää! Kiitos kokeilusta.", "<p>Hyvää päivää! Kiitos kokeilusta.</p>"),
    ("Tack för försöket – vi ses i Åbo.", "<p>Tack för försöket – vi ses i Åbo.</p>"),
    ('Tom & Jerry\'s "kokeilu"', '<p>Tom &amp; Jerry\'s "kokeilu"</p>'),
    ("1 < 2 > 0 &amp;", "<p>1 &lt; 2 &gt; 0 &amp;amp;</p>"),
    # each kind of link
    ("http://example.com", "<p>" + a("http://example.com") + "</p>"),
    ("https://example.com/polku", "<p>" + a("https://example.com/polku") + "</p>"),
    ("HTTPS://EXAMPLE.COM", "<p>" + a("HTTPS://EXAMPLE.COM") + "</p>"),
    ("www.kunta.fi", "<p>" + a("http://www.kunta.fi", "www.kunta.fi") + "</p>"),
    ("www.example.dev/x", "<p>" + a("http://www.example.dev/x", "www.example.dev/x") + "</p>"),
    ("matti@kunta.fi", "<p>" + a("mailto:matti@kunta.fi", "matti@kunta.fi") + "</p>"),
    (
        "m.virtanen+kokeilu@firma.app",
        "<p>" + a("mailto:m.virtanen+kokeilu@firma.app", "m.virtanen+kokeilu@firma.app") + "</p>",
    ),
    ("mailto:matti@kunta.fi", "<p>" + a("mailto:matti@kunta.fi") + "</p>"),
    (
        "Lue https://a.fi ja kirjoita liisa@b.fi tai katso www.c.fi",
        "<p>Lue "
        + a("https://a.fi")
        + " ja kirjoita "
        + a("mailto:liisa@b.fi", "liisa@b.fi")
        + " tai katso "
        + a("http://www.c.fi", "www.c.fi")
        + "</p>",
    ),
    ("rivi\nhttp://a.fi\nrivi", "<p>rivi<br>" + a("http://a.fi") + "<br>rivi</p>"),
    ("http://localhost:8000/x", "<p>" + a("http://localhost:8000/x") + "</p>"),
    # not links: bare domains, file names, other schemes
    ("example.com ja kunta.fi/sivu", "<p>example.com ja kunta.fi/sivu</p>"),
    ("Katso README.md ja main.py", "<p>Katso README.md ja main.py</p>"),
    ("ftp://example.com //example.com", "<p>ftp://example.com //example.com</p>"),
    ("versio 1.2.3 ja 192.168.1.1", "<p>versio 1.2.3 ja 192.168.1.1</p>"),
    ("foo@bar ei ole osoite", "<p>foo@bar ei ole osoite</p>"),
    # punctuation after links
    ("Katso http://a.fi.", "<p>Katso " + a("http://a.fi") + ".</p>"),
    ("Katso http://a.fi/b, kiitos", "<p>Katso " + a("http://a.fi/b") + ", kiitos</p>"),
    (
        "http://a.fi/b; http://a.fi/c:",
        "<p>" + a("http://a.fi/b") + "; " + a("http://a.fi/c") + ":</p>",
    ),
    (
        "Oletko nähnyt www.a.fi/b?",
        "<p>Oletko nähnyt " + a("http://www.a.fi/b", "www.a.fi/b") + "?</p>",
    ),
    ("Mahtavaa: https://a.fi/b!!!", "<p>Mahtavaa: " + a("https://a.fi/b") + "!!!</p>"),
    ("https://a.fi/b...", "<p>" + a("https://a.fi/b") + "...</p>"),
    (
        "Kirjoita matti@kunta.fi.",
        "<p>Kirjoita " + a("mailto:matti@kunta.fi", "matti@kunta.fi") + ".</p>",
    ),
    # quotes and brackets around links
    ("(http://a.fi/b)", "<p>(" + a("http://a.fi/b") + ")</p>"),
    (
        "(katso https://fi.wikipedia.org/wiki/Kokeilu_(hanke))",
        "<p>(katso " + a("https://fi.wikipedia.org/wiki/Kokeilu_(hanke)") + ")</p>",
    ),
    ("[www.a.fi]", "<p>[" + a("http://www.a.fi", "www.a.fi") + "]</p>"),
    ("{http://a.fi/b}", "<p>{" + a("http://a.fi/b") + "}</p>"),
    ('"http://a.fi/b"', '<p>"' + a("http://a.fi/b") + '"</p>'),
    ("'http://a.fi/b'", "<p>'" + a("http://a.fi/b") + "'</p>"),
    ("«http://a.fi/b»", "<p>«" + a("http://a.fi/b") + "»</p>"),
    ("»http://a.fi/b»", "<p>»" + a("http://a.fi/b") + "»</p>"),
    ("”http://a.fi/b”", "<p>”" + a("http://a.fi/b") + "”</p>"),
    ("“https://a.fi/b’s”.", "<p>“" + a("https://a.fi/b’s") + "”.</p>"),
    ("<http://a.fi/b>", "<p>&lt;" + a("http://a.fi/b") + "&gt;</p>"),
    ("(“www.a.fi”).", "<p>(“" + a("http://www.a.fi", "www.a.fi") + "”).</p>"),
    ("«matti@kunta.fi»", "<p>«" + a("mailto:matti@kunta.fi", "matti@kunta.fi") + "»</p>"),
    ("”matti@kunta.fi”", "<p>”" + a("mailto:matti@kunta.fi", "matti@kunta.fi") + "”</p>"),
    ("'matti@kunta.fi'", "<p>'" + a("mailto:matti@kunta.fi", "matti@kunta.fi") + "'</p>"),
    ("(matti@kunta.fi)", "<p>(" + a("mailto:matti@kunta.fi", "matti@kunta.fi") + ")</p>"),
    ("[matti@kunta.fi]", "<p>[" + a("mailto:matti@kunta.fi", "matti@kunta.fi") + "]</p>"),
    # long URLs: text shortened, href whole
    (LONG_URL, "<p>" + a(LONG_URL, LONG_URL[:59] + "…") + "</p>"),
    ("https://a.fi/" + "x" * 47, "<p>" + a("https://a.fi/" + "x" * 47) + "</p>"),
    (
        "https://a.fi/" + "x" * 48,
        "<p>" + a("https://a.fi/" + "x" * 48, "https://a.fi/" + "x" * 46 + "…") + "</p>",
    ),
    # Unicode domains and paths
    ("http://ääkkönen.fi", "<p>" + a("http://ääkkönen.fi") + "</p>"),
    (
        "www.ääkkönen.fi/sivu",
        "<p>" + a("http://www.ääkkönen.fi/sivu", "www.ääkkönen.fi/sivu") + "</p>",
    ),
    ("https://sv.wikipedia.org/wiki/Åbo", "<p>" + a("https://sv.wikipedia.org/wiki/Åbo") + "</p>"),
    ("http://xn--kkknen-cuaa4b.fi", "<p>" + a("http://xn--kkknen-cuaa4b.fi") + "</p>"),
    ("posti@ääkkönen.fi", "<p>" + a("mailto:posti@ääkkönen.fi", "posti@ääkkönen.fi") + "</p>"),
    # query strings with &
    (
        "https://a.fi/haku?q=kokeilu&sivu=2",
        "<p>" + a("https://a.fi/haku?q=kokeilu&amp;sivu=2") + "</p>",
    ),
    (
        "www.a.fi/?x=1&amp;y=<2>",
        "<p>" + a("http://www.a.fi/?x=1&amp;amp;y=", "www.a.fi/?x=1&amp;amp;y=") + "&lt;2&gt;</p>",
    ),
    # HTML and script injection
    ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
    (
        '<b>lihava</b> <a href="http://a.fi">x</a>',
        '<p>&lt;b&gt;lihava&lt;/b&gt; &lt;a href="' + a("http://a.fi") + '"&gt;x&lt;/a&gt;</p>',
    ),
    ("javascript:alert(1)", "<p>javascript:alert(1)</p>"),
    (
        "JaVaScRiPt:alert(document.cookie)//www.a.fi",
        "<p>JaVaScRiPt:alert(document.cookie)//www.a.fi</p>",
    ),
    ("data:text/html;base64,PHNjcmlwdD4=", "<p>data:text/html;base64,PHNjcmlwdD4=</p>"),
    ("vbscript:msgbox(1)", "<p>vbscript:msgbox(1)</p>"),
    (
        'http://a.fi/"><script>alert(1)</script>',
        "<p>" + a("http://a.fi/") + '"&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    ),
    # a straight quote ending a URL belongs to it only when the URL's quotes pair up
    (
        'http://a.fi/"onmouseover="alert(1)"',
        "<p>"
        + a("http://a.fi/&quot;onmouseover=&quot;alert(1)", 'http://a.fi/"onmouseover="alert(1)')
        + '"</p>',
    ),
    (
        "http://a.fi/'onclick='x'",
        "<p>" + a("http://a.fi/&#x27;onclick=&#x27;x", "http://a.fi/'onclick='x") + "'</p>",
    ),
    ('http://a.fi/"x"', "<p>" + a("http://a.fi/&quot;x&quot;", 'http://a.fi/"x"') + "</p>"),
    ('"><script>alert(1)</script>@a.fi', '<p>"&gt;&lt;script&gt;alert(1)&lt;/script&gt;@a.fi</p>'),
    ("&lt;script&gt;", "<p>&amp;lt;script&amp;gt;</p>"),
    ("<!-- kommentti --> <![CDATA[x]]>", "<p>&lt;!-- kommentti --&gt; &lt;![CDATA[x]]&gt;</p>"),
    # invisible format characters end a link (no hidden right-to-left override)
    ("http://a.fi/\u202egnp.exe", "<p>" + a("http://a.fi/") + "\u202egnp.exe</p>"),
    ("http://a.fi/b\u200b", "<p>" + a("http://a.fi/b") + "\u200b</p>"),
    # odd spellings: schemes are matched case-insensitively, but only exact ones link
    (
        "WwW.Kunta.FI/Sivu",
        "<p>" + a("http://WwW.Kunta.FI/Sivu", "WwW.Kunta.FI/Sivu") + "</p>",
    ),
    ("MAILTO:Matti@Kunta.fi", "<p>" + a("MAILTO:Matti@Kunta.fi") + "</p>"),
    ("httpſ://a.fi", "<p>httpſ://a.fi</p>"),
    # lone surrogates (possible from JSON) become U+FFFD, so the page still encodes
    ("a\ud800b", "<p>a\ufffdb</p>"),
    # control characters become spaces
    ("a\x00b\x07c", "<p>a b c</p>"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_render_comment(text: str, expected: str) -> None:
    assert render_comment(text) == expected


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 45
    assert len({text for text, _ in CASES}) == len(CASES)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.other.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(data)

    def handle_decl(self, decl: str) -> None:
        self.other.append(decl)

    def handle_pi(self, data: str) -> None:
        self.other.append(data)

    def unknown_decl(self, data: str) -> None:
        self.other.append(data)


FRAGMENTS = [
    "<",
    ">",
    '"',
    "'",
    "&",
    "&amp;",
    "&#x3C;",
    ";",
    ":",
    "/",
    "//",
    "\\",
    "=",
    "`",
    "?",
    "#",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "«",
    "»",
    "“",
    "”",
    "’",
    ".",
    ",",
    "!",
    "-",
    "@",
    " ",
    "  ",
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "\t",
    "\x00",
    "\u202e",
    "\u200b",
    "\xa0",
    "ä",
    "Å",
    "ö",
    "http://",
    "https://",
    "HTTP://",
    "www.",
    "mailto:",
    "javascript:",
    "data:",
    "vbscript:",
    "ftp://",
    "a.fi",
    "kunta.fi",
    "example.com",
    "xn--kkknen-cuaa4b.fi",
    "ääkkönen.fi",
    "matti",
    "x@y.fi",
    "<script>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=",
    '"><script>',
    "' onmouseover='",
    "<!--",
    "-->",
    "<![CDATA[",
    "<?php",
    "<br>",
    "<p>",
    "alert(1)",
    "%3Cscript%3E",
    "?q=1&b=2",
    "x" * 70,
]
TAG = re.compile(r"<[^>]*>")
ALLOWED_TAG = re.compile(r'<p>|</p>|<br>|</a>|<a href="[^"<>]*" rel="nofollow ugc noopener">')


def _adversarial_inputs(count: int) -> list[str]:
    rng = random.Random(20240611)
    inputs = []
    for _ in range(count):
        if rng.random() < 0.2:
            length = rng.randint(1, 80)
            inputs.append("".join(chr(rng.randint(0, 0x2FF)) for _ in range(length)))
        else:
            inputs.append("".join(rng.choices(FRAGMENTS, k=rng.randint(1, 25))))
    return inputs


def _visible(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cc")


@pytest.mark.parametrize("text", _adversarial_inputs(400))
def test_only_p_br_and_safe_links(text: str) -> None:
    html = render_comment(text)
    for tag in TAG.findall(html):
        assert ALLOWED_TAG.fullmatch(tag), tag
    parser = _Collector()
    parser.feed(html)
    parser.close()
    assert parser.other == []
    for tag, attrs in parser.tags:
        assert tag in {"p", "br", "a"}
        if tag == "a":
            values = dict(attrs)
            assert sorted(values) == ["href", "rel"]
            assert values["rel"] == LINK_REL
            href = values["href"] or ""
            assert href.lower().startswith(("http://", "https://", "mailto:")), href
            assert not any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in href)
        else:
            assert attrs == []
    if "…" not in html:  # nothing lost, nothing added, unless link text was shortened
        assert _visible("".join(parser.text)) == _visible(text)
