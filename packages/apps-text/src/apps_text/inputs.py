"""The one check of what a tokenizer is given: several texts, never one string read as its characters."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["text_list"]


def text_list(texts: Iterable[str], who: str) -> list[str]:
    """`texts` as a list; a single `str` (or bytes) is refused, since iterating it would tokenize each character."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{who}: expected a list of texts, got a single {type(texts).__name__}; pass [text]")
    return list(texts)
