"""Pre-tokenization rules: plain `str -> str` functions applied before tokenizing."""

from __future__ import annotations

import html
import re

__all__ = ["fix_html"]

_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_SPACES = re.compile(r" {2,}")


def fix_html(text: str) -> str:
    """Undo the HTML debris common in scraped text (IMDB reviews): entities, `<br />`, `\\n` escapes."""
    text = _BR.sub("\n", text).replace("\\n", "\n").replace(" @.@ ", ".").replace(" @-@ ", "-")
    return _SPACES.sub(" ", html.unescape(text))
