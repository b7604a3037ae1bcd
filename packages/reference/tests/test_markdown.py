"""The newsletter preset: Markdown as readers see it, raw HTML and script links never passed."""

from __future__ import annotations

from uskalla_reference.markdown import newsletter_html


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
