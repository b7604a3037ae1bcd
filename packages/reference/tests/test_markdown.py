"""The newsletter preset: Markdown as readers see it, raw HTML and script links never passed;
the same source as plain text for the text part, and its preheader."""

from __future__ import annotations

from uskalla_reference.markdown import PREHEADER_LENGTH, newsletter_html, newsletter_text, preheader


def test_markdown_with_tables_and_raw_html_escaped() -> None:
    html = newsletter_html(
        "# Kevät\n\n- yksi\n- [kaksi](https://uskalla.fi/a)\n\n"
        "<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n"
    )
    assert "<h1>Kevät</h1>" in html
    assert '<li><a href="https://uskalla.fi/a">kaksi</a></li>' in html
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<table>" in html and "<td>1</td>" in html and "<s>2</s>" in html


def test_no_script_links_and_no_autolinked_text() -> None:
    html = newsletter_html('[x](javascript:alert(1)) <b>b</b> www.example.fi "quoted"')
    assert html == (
        "<p>[x](javascript:alert(1)) &lt;b&gt;b&lt;/b&gt; www.example.fi &quot;quoted&quot;</p>\n"
    )


SOURCE = """# Kevään uutiset

Hei *kaikki*, tässä **tärkeimmät**:

- [Tarinapaja](https://uskalla.fi/t) Tampereella
- kokeilut ~~ennen~~ nyt
  - sisempi

3. kolme
4. neljä

| kunta | kokeiluja |
|---|--:|
| Tampere | 3 |

> lainaus
> jatkuu

```
koodi
```

---

## Yhteystiedot

Kirjoita [info@uskalla.fi](mailto:info@uskalla.fi) tai <b>soita</b>.
"""


def test_plain_text_reads_as_text_not_markdown() -> None:
    assert newsletter_text(SOURCE) == (
        "Kevään uutiset\n"
        "==============\n\n"
        "Hei kaikki, tässä tärkeimmät:\n\n"
        "- Tarinapaja (https://uskalla.fi/t) Tampereella\n"
        "- kokeilut ennen nyt\n"
        "  - sisempi\n\n"
        "3. kolme\n"
        "4. neljä\n\n"
        "kunta | kokeiluja\n"
        "Tampere | 3\n\n"
        "> lainaus\n"
        "> jatkuu\n\n"
        "    koodi\n\n"
        "--------------------\n\n"
        "Yhteystiedot\n"
        "------------\n\n"
        "Kirjoita info@uskalla.fi tai <b>soita</b>."
    )


def test_a_loose_list_item_keeps_its_paragraphs_in_line() -> None:
    assert newsletter_text("- eka\n\n  toinen kappale\n\n- kolmas\n") == (
        "- eka\n\n  toinen kappale\n\n- kolmas"
    )


def test_the_preheader_is_the_opening_words_without_headings() -> None:
    assert preheader(SOURCE).startswith("Hei kaikki, tässä tärkeimmät: Tarinapaja")
    long = preheader("# Otsikko\n\n" + "sana " * 100)
    assert len(long) <= PREHEADER_LENGTH and long.endswith("sana…")
    assert preheader("# Vain otsikko\n") == ""
