"""Position notes are Markdown rendered sanitised: nothing active survives, links are safe, paragraphs numbered."""
from __future__ import annotations

import re

import pytest

from focalpoint.positions.markdown import blocks, paragraphs, render


def tags(html: str) -> list[str]:
    return re.findall(r"<([a-zA-Z0-9]+)", html)


def test_markdown_is_rendered():
    html = str(render("# Budget\n\nBelgium *welcomes* the **assessment**.\n\n- one\n- two\n\n1. a\n2. b\n\n> quoted"))
    assert html == ("<h1>Budget</h1>\n<p>Belgium <em>welcomes</em> the <strong>assessment</strong>.</p>\n"
                    "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n"
                    "<blockquote>\n<p>quoted</p>\n</blockquote>\n")


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    "Text <script>alert(1)</script> more",
    "```html\n<script>alert(1)</script>\n```",
    "<img src=x onerror=alert(1)>",
    '<a href="https://example.org" onclick="alert(1)">x</a>',
    "<iframe src='https://evil.example'></iframe>",
    "<div style='position:fixed'>covered</div>",
    '<svg onload="alert(1)"></svg>',
])
def test_raw_html_is_never_markup(source):
    html = str(render(source))
    assert set(tags(html)) <= {"p", "pre", "code"}, html
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<svg" not in html
    assert not re.search(r"<[^>]+\son\w+=", html)  # no event handler attribute on any tag
    assert not re.search(r"<[^>]+\sstyle=", html)


@pytest.mark.parametrize("href", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)",
                                  "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4=",
                                  "&#106;avascript:alert(1)"])
def test_dangerous_links_lose_their_target(href):
    html = str(render(f"[click]({href})"))
    assert "href" not in html


def test_links_get_rel_noopener_noreferrer_and_relative_ones_are_dropped():
    html = str(render('[IPBES](https://www.ipbes.net "site") [inside](/admin/users) [mail](mailto:nfp@example.org)'))
    assert '<a href="https://www.ipbes.net" title="site" rel="noopener noreferrer">IPBES</a>' in html
    assert '<a rel="noopener noreferrer">inside</a>' in html  # no href into the application
    assert '<a href="mailto:nfp@example.org" rel="noopener noreferrer">mail</a>' in html


def test_images_become_their_words():
    assert str(render("![a *tracking* pixel](https://tracker.example/p.gif)")) == "<p>a <em>tracking</em> pixel</p>\n"


def test_empty_text_renders_nothing():
    assert str(render("")) == "" and str(render(None)) == "" and str(render("  \n\n ")) == ""


def test_control_characters_and_crlf_are_cleaned():
    assert str(render("a\x00b\r\nc\x07")) == "<p>ab\nc</p>\n"


def test_paragraphs_are_the_top_level_blocks():
    text = ("# Budget\n\nFirst paragraph\non two lines.\n\n- a list\n- of two\n\n---\n\n```\ncode\n\nwith a gap\n```"
            "\n\n> a quote\n\nSee [the doc][d].\n\n[d]: https://www.ipbes.net/doc")
    assert paragraphs(text) == ["# Budget", "First paragraph\non two lines.", "- a list\n- of two",
                                "```\ncode\n\nwith a gap\n```", "> a quote", "See [the doc][d]."]
    numbered = [(b.number, str(b.html)) for b in blocks(text)]
    assert numbered[3] == (None, "<hr>\n")  # a thematic break is not a paragraph
    # Reference links resolve though each block is rendered on its own.
    assert numbered[-1] == (
        6, '<p>See <a href="https://www.ipbes.net/doc" rel="noopener noreferrer">the doc</a>.</p>\n')


def test_paragraphs_of_nothing():
    assert paragraphs("") == [] and paragraphs(None) == [] and blocks("\n\n") == []
