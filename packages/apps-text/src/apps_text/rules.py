"""Pre-tokenization rules (fastai's): plain `str -> str` functions applied to a text before it is split.

The special tokens they insert are words of their own (`xxmaj`, `xxup`, `xxrep`...), so a tokenizer keeps
them whole and the model sees, e.g., "capitalised" as a token instead of a second vocabulary entry per word.
Each rule is marked `config_safe`: a tokenizer's rule list is exported as data (names), never as code.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable

from datablock import config_safe

__all__ = [
    "UNK",
    "PAD",
    "BOS",
    "EOS",
    "FLD",
    "TK_REP",
    "TK_WREP",
    "TK_UP",
    "TK_MAJ",
    "SPECIAL_TOKENS",
    "fix_html",
    "replace_rep",
    "replace_wrep",
    "spec_add_spaces",
    "rm_useless_spaces",
    "replace_all_caps",
    "replace_maj",
    "replace_caps",
    "lowercase",
    "replace_space",
    "default_rules",
    "default_post_rules",
]

UNK, PAD, BOS, EOS, FLD = "xxunk", "xxpad", "xxbos", "xxeos", "xxfld"
TK_REP, TK_WREP, TK_UP, TK_MAJ = "xxrep", "xxwrep", "xxup", "xxmaj"
SPECIAL_TOKENS: tuple[str, ...] = (UNK, PAD, BOS, EOS, FLD, TK_REP, TK_WREP, TK_UP, TK_MAJ)  # fastai's order

# fastai's fix_html replaces entity *debris* ("amp;" with its "&" lost by an earlier scrape). We also take the "&"
# when it is there, so a well-formed "&amp;" gives "&" and not fastai's "&&" (tests/test_rules.py::test_fix_html_*).
_HTML_DEBRIS = re.compile(r"&?(#39;|amp;|#146;|nbsp;|#36;)")
_DEBRIS = {"#39;": "'", "amp;": "&", "#146;": "'", "nbsp;": " ", "#36;": "$"}
_QUOT = re.compile(r"&?quot;")


@config_safe
def fix_html(x: str) -> str:
    """Undo the HTML debris common in scraped text (IMDB reviews): entities, `<br />`, `\\n` escapes, `<unk>`."""
    # each regex runs only when what it looks for is there (tools/bench/text_tokenize.py: the rules are most of
    # the cost of tokenizing); tests/test_rules.py::test_fast_rules_equal_fastai_formulas checks nothing changed
    if "#" in x or "amp;" in x or "nbsp;" in x:  # every debris entity holds one of these
        x = _HTML_DEBRIS.sub(lambda m: _DEBRIS[m.group(1)], x)
    x = x.replace("\\n", "\n")
    if "quot;" in x:
        x = _QUOT.sub("'", x)
    x = x.replace("<br />", "\n").replace('\\"', '"').replace("<unk>", UNK)
    x = x.replace(" @.@ ", ".").replace(" @-@ ", "-").replace("\\", " \\ ")
    return html.unescape(x) if "&" in x else x  # unescape is the costly step; without "&" it changes nothing


_RE_REP = re.compile(r"(\S)(\1{2,})")


@config_safe
def replace_rep(t: str) -> str:
    """Character repetitions of 3 or more: `cccc` → ` xxrep 4 c `."""
    return _RE_REP.sub(lambda m: f" {TK_REP} {len(m.group(2)) + 1} {m.group(1)} ", t)


_RE_WREP = re.compile(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)")


@config_safe
def replace_wrep(t: str) -> str:
    """Word repetitions of 3 or more: `word word word word` → ` xxwrep 4 word `."""

    def _sub(m: re.Match[str]) -> str:
        c, cc, e = m.groups()
        return f" {TK_WREP} {len(cc.split()) + 2} {c} {e}"

    # a match needs two equal whitespace-separated words in a row and a third that starts with the word: C-speed
    # checks first (tests/test_rules.py::test_fast_rules_equal_fastai_formulas)
    ws = t.split()
    pairs = itertools.compress(range(len(ws) - 2), map(str.__eq__, ws, ws[1:]))
    if not any(ws[i + 2].startswith(ws[i]) for i in pairs):
        return t
    return _RE_WREP.sub(_sub, t)


_RE_SPEC = re.compile(r"([/#\\])")


@config_safe
def spec_add_spaces(t: str) -> str:
    """Put spaces around `/`, `#` and `\\`, so they are tokens of their own."""
    return _RE_SPEC.sub(r" \1 ", t)


_RE_SPACE = re.compile(" {2,}")


@config_safe
def rm_useless_spaces(t: str) -> str:
    """Collapse runs of spaces into one."""
    return _RE_SPACE.sub(" ", t) if "  " in t else t


_RE_ALL_CAPS = re.compile(r"(\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))")


@config_safe
def replace_all_caps(t: str) -> str:
    """Words in ALL CAPS (2 letters or more) → `xxup` + the word in lower case."""

    def _sub(m: re.Match[str]) -> str:
        tok = f"{TK_UP} " if len(m.group(2)) > 1 else ""
        return f"{m.group(1)}{tok}{m.group(2).lower()}"

    return _RE_ALL_CAPS.sub(_sub, t)


_RE_MAJ = re.compile(r"(\s|^)([A-Z][^A-Z\s]*)(?=(\s|$))")


@config_safe
def replace_maj(t: str) -> str:
    """Capitalised words (2 letters or more) → `xxmaj` + the word in lower case."""

    def _sub(m: re.Match[str]) -> str:
        tok = f"{TK_MAJ} " if len(m.group(2)) > 1 else ""
        return f"{m.group(1)}{tok}{m.group(2).lower()}"

    return _RE_MAJ.sub(_sub, t)


_RE_CAP_WORD = re.compile(r"(?<!\S)[A-Z]\S*")
_HAS_LOWER = re.compile("[a-z]")
_HAS_UPPER = re.compile("[A-Z]")


def _cap_word(m: re.Match[str]) -> str:
    w = m.group()
    if _HAS_LOWER.search(w) is None:  # replace_all_caps: [A-Z]+[^a-z\s]*, a whole word
        return f"{TK_UP} {w.lower()}" if len(w) > 1 else w.lower()
    if _HAS_UPPER.search(w, 1) is None:  # replace_maj: [A-Z][^A-Z\s]*, a whole word
        return f"{TK_MAJ} {w.lower()}" if len(w) > 1 else w.lower()
    return w


def replace_caps(t: str) -> str:
    """`replace_all_caps` then `replace_maj` in one pass: what the tokenizer runs when the rules list has them in a
    row (the default). Both rules look at whole words that start with a capital, and a word the first one changed
    starts lowercase for the second, so each word is decided once: no lowercase letter → `xxup`, no capital after
    the first letter → `xxmaj`."""
    return _RE_CAP_WORD.sub(_cap_word, t)


@config_safe
def lowercase(t: str, add_bos: bool = True, add_eos: bool = False) -> str:
    """Lower case, stripped, with `xxbos` in front (and `xxeos` at the end with `add_eos=True`)."""
    return (f"{BOS} " if add_bos else "") + t.lower().strip() + (f" {EOS}" if add_eos else "")


@config_safe
def replace_space(t: str) -> str:
    """A post-rule on tokens: a space inside a token becomes `▁`, so tokens can be joined and split on spaces."""
    return t.replace(" ", "▁")


def default_rules() -> list[Callable[[str], str]]:
    """fastai's `defaults.text_proc_rules`, in fastai's order (a new list each call: edit it freely)."""
    return [
        fix_html, replace_rep, replace_wrep, spec_add_spaces, rm_useless_spaces,
        replace_all_caps, replace_maj, lowercase,
    ]  # fmt: skip


def default_post_rules() -> list[Callable[[str], str]]:
    """fastai's `defaults.text_postproc_rules`: applied to each token after splitting."""
    return [replace_space]
