"""HTML to readable text: trafilatura for the main content, a plain converter as fallback.

The plain converter (stdlib ``html.parser``) keeps every visible text node, turns
block elements into line breaks and headings into ``#`` lines, and drops scripts,
styles and other invisible parts. It is fast, so the corpus indexer uses it too.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

log = logging.getLogger(__name__)

_SKIP = {"script", "style", "noscript", "template", "svg", "iframe", "object", "canvas"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "summary", "table", "tr", "ul", "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip
_VOID = {
    "br",
    "hr",
    "img",
    "input",
    "meta",
    "link",
    "area",
    "base",
    "col",
    "embed",
    "source",
    "wbr",
}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip_depth = 0
        self._in_title = False
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP and tag not in _VOID:
            self._skip_depth += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.parts.append("#" * int(tag[1]) + " ")
            elif tag == "li":
                self.parts.append("- ")
            elif tag == "pre":
                self._pre += 1
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP and tag not in _VOID:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def plain_text(html: str) -> tuple[str, str]:
    """``(title, text)`` of an HTML document, keeping all visible text."""
    parser = _TextParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this guards against the odd assertion
        log.debug("html.parser gave up part-way", exc_info=True)
    title = re.sub(r"\s+", " ", "".join(parser.title_parts)).strip()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return title, text


def html_to_text(html: str, url: str | None = None) -> tuple[str, str]:
    """``(title, main text)``: trafilatura's extraction as Markdown when it finds the main
    content, otherwise every visible text node from :func:`plain_text`."""
    title, fallback = plain_text(html)
    try:
        import trafilatura

        main = trafilatura.extract(
            html,
            url=url,
            output_format="markdown",
            include_tables=True,
            include_links=False,
            include_comments=False,
            favor_recall=True,
        )
    except Exception:  # a converter bug must not cost the page: fall back
        log.debug("trafilatura failed on %s", url, exc_info=True)
        main = None
    # Trafilatura drops boilerplate on purpose, but on short or list-like pages it can
    # drop nearly everything; then all visible text is the better answer.
    if main and (len(main) >= 500 or len(main) * 4 >= len(fallback)):
        return title, main.strip()
    return title, fallback
