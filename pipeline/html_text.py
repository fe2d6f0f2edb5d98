"""HTML -> training text, shared by the Stack Exchange adapter and the opt-in `html: strip` step.

Markdown rather than flat text (markdownify, on BeautifulSoup): code blocks become ``` fences, which
the whitespace normalizer leaves alone, so indentation inside `<pre>` survives; inline `<code>`
becomes `backticks`; lists, headings and quotes keep their structure; entities are decoded. Links
keep their anchor text (the URL is dropped: URLs are noise in training text and a PII vector), and
images are dropped. Asterisks and underscores are not escaped: the text is for reading, not for
rendering back to HTML.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["html_to_text", "looks_like_html"]

#: A tag or an entity: text without either is returned unchanged (and unparsed).
_MARKUP_RE = re.compile(r"<[A-Za-z/!][^>]*>|&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);")


@functools.cache
def _converter() -> Any:
    from markdownify import MarkdownConverter  # imported on first use: most runs never need it

    return MarkdownConverter(
        heading_style="ATX",
        bullets="-",
        escape_asterisks=False,
        escape_underscores=False,
        escape_misc=False,
        strip=["a", "img"],
    )


def looks_like_html(text: str) -> bool:
    """Whether `text` has any tag or entity (the cheap gate before parsing)."""
    return _MARKUP_RE.search(text) is not None


def html_to_text(html: str) -> str:
    """The readable text of an HTML fragment, as Markdown; text without markup is returned as is."""
    if not looks_like_html(html):
        return html
    return _converter().convert(html).strip()
