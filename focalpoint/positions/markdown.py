"""Position notes are written in Markdown and shown sanitised.

markdown-it-py in its "commonmark" preset with raw HTML off renders the text; nh3 then keeps only an
allow-list of tags and attributes (no script, no event handlers, no style, no images, links only to
http, https and mailto, relative links dropped), and links get rel="noopener noreferrer".

A note's "paragraphs" (what reviewers comment on) are its top-level Markdown blocks: a paragraph, a
heading, a whole list, a quotation, a code block. Thematic breaks are not numbered.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False})


def _image_as_text(self, tokens, idx, options, env) -> str:
    # No images: remote ones are read-tracking beacons (and the CSP would block them anyway); keep the words.
    return self.renderInline(tokens[idx].children or [], options, env)


_md.add_render_rule("image", _image_as_text)

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code",
    "em", "strong", "a",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Dropped with their content, should they ever appear (raw HTML is off, so they cannot from Markdown).
_CLEAN_CONTENT_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "template", "svg", "math",
                                 "noscript", "textarea", "select", "title"})
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(text: str | None) -> str:
    """The text as stored: C0 controls (but tab and newlines), DEL and lone surrogates dropped, CRLF → LF."""
    return _CONTROL_CHARS.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n"))


def sanitize(html: str) -> str:
    if not html:
        return ""
    return nh3.clean(html, tags=set(ALLOWED_TAGS), clean_content_tags=set(_CLEAN_CONTENT_TAGS),
                     attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
                     url_schemes=set(ALLOWED_URL_SCHEMES), link_rel="noopener noreferrer", strip_comments=True,
                     url_relative="deny")


def render(text: str | None) -> Markup:
    """The Markdown ``text`` as sanitised HTML."""
    text = clean_text(text)
    if not text.strip():
        return Markup("")
    return Markup(sanitize(_md.render(text)))  # noqa: S704 - nh3 output is the allow-listed subset


@dataclass(frozen=True)
class Block:
    """One top-level block of a note's section: its number (None for a thematic break), its Markdown
    source and its sanitised HTML."""

    number: int | None
    source: str
    html: Markup


def blocks(text: str | None) -> list[Block]:
    """The top-level blocks of ``text`` in order, numbered from 1 (what reviewers comment on).

    The whole text is parsed once, so reference-style links defined anywhere still resolve.
    """
    text = clean_text(text)
    if not text.strip():
        return []
    env: dict = {}
    tokens = _md.parse(text, env)
    lines = text.split("\n")
    out: list[Block] = []
    number = 0
    start = 0
    while start < len(tokens):
        token = tokens[start]
        end = start
        if token.nesting == 1:  # find the matching close at the same level
            depth = 0
            for end in range(start, len(tokens)):
                depth += tokens[end].nesting
                if depth == 0:
                    break
        html = Markup(sanitize(_md.renderer.render(tokens[start:end + 1], _md.options, env)))  # noqa: S704
        if token.type == "hr":
            out.append(Block(None, "", html))
        else:
            number += 1
            first, last = token.map or (0, 0)
            out.append(Block(number, "\n".join(lines[first:last]).strip(), html))
        start = end + 1
    return out


def paragraphs(text: str | None) -> list[str]:
    """The Markdown source of each numbered block of ``text`` (paragraph n is ``paragraphs(text)[n - 1]``)."""
    return [b.source for b in blocks(text) if b.number is not None]
