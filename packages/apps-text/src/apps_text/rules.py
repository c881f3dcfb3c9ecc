"""Pre-tokenization rules (fastai's): plain `str -> str` functions applied to a text before it is split.

The special tokens they insert are words of their own (`xxmaj`, `xxup`, `xxrep`...), so a tokenizer keeps
them whole and the model sees, e.g., "capitalised" as a token instead of a second vocabulary entry per word.
Each rule is marked `config_safe`: a tokenizer's rule list is exported as data (names), never as code.
"""

from __future__ import annotations

import html
import itertools
import operator
import re
import sys
from collections.abc import Callable

import numpy as np

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
# fastai runs one regex, `&?(#39;|amp;|#146;|nbsp;|#36;)`, over every character; plain `str.replace` calls give the
# same text (tests/test_rules.py::test_fast_rules_equal_fastai_formulas): no two entities overlap (each ends with ";",
# which starts none), and "amp;" goes last because its "&" could join an entity after it, which the single regex pass
# never rescans ("amp;#39;" gives "&'"); the other replacements ("'", " ", "$") can form no entity.
_DEBRIS = (("#39;", "'"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"), ("amp;", "&"))


@config_safe
def fix_html(x: str) -> str:
    """Undo the HTML debris common in scraped text (IMDB reviews): entities, `<br />`, `\\n` escapes, `<unk>`."""
    # each step runs only when what it looks for is there (tools/bench/text_tokenize.py: the rules are most of the
    # cost of tokenizing); tests/test_rules.py::test_fast_rules_equal_fastai_formulas checks nothing changed
    if "#" in x or "amp;" in x or "nbsp;" in x:  # every debris entity holds one of these
        for debris, char in _DEBRIS:
            if debris in x:
                x = x.replace("&" + debris, char).replace(debris, char)
    # then fastai's replacements in its order, skipped where the character they need is not there (no replacement
    # brings a "\\", "<" or "@")
    backslash, lt = "\\" in x, "<" in x
    if backslash:
        x = x.replace("\\n", "\n")
    if "quot;" in x:  # fastai's `&?quot;` → "'"
        x = x.replace("&quot;", "'").replace("quot;", "'")
    if lt:
        x = x.replace("<br />", "\n")
    if backslash:
        x = x.replace('\\"', '"')
    if lt:
        x = x.replace("<unk>", UNK)
    if "@" in x:
        x = x.replace(" @.@ ", ".").replace(" @-@ ", "-")
    if backslash:
        x = x.replace("\\", " \\ ")
    return html.unescape(x) if "&" in x else x  # unescape is the costly step; without "&" it changes nothing


_RE_REP = re.compile(r"(\S)(\1{2,})")


@config_safe
def replace_rep(t: str) -> str:
    """Character repetitions of 3 or more: `cccc` → ` xxrep 4 c `."""
    # fastai's formula is `_RE_REP.sub` over the text, which tries a match at every character. The same runs are
    # found by comparing the code points with numpy (three equal in a row), and the regex then runs only where a
    # run starts: the same text (tests/test_rules.py::test_fast_rules_equal_fastai_formulas), at a fraction of the
    # cost (tools/bench/text_tokenize.py)
    if len(t) < 3:
        return t
    cps = np.frombuffer(t.encode("utf-32-le", "surrogatepass"), dtype="<u4")  # one code point per character
    same = cps[1:] == cps[:-1]
    starts = np.flatnonzero(same[1:] & same[:-1])  # t[i] == t[i + 1] == t[i + 2]
    if not len(starts):
        return t
    out: list[str] = []
    end = 0
    for i in starts.tolist():
        if i < end:  # inside the run just replaced
            continue
        m = _RE_REP.match(t, i)  # the whole run (None for whitespace, which fastai's `\S` leaves)
        if m is not None:
            out += (t[end:i], f" {TK_REP} {m.end() - i} {m.group(1)} ")
            end = m.end()
    if not out:
        return t
    out.append(t[end:])
    return "".join(out)


_RE_WREP = re.compile(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)")  # fastai's
# the same after a whitespace only (`^` is tried apart), so the regex engine skips to the whitespace; the word is
# matched possessively where Python has it (a shorter one would not be followed by a space)
_RE_WREP_WS = re.compile(
    r"\s(\w++)\s+((?:\1\s+)+)\1(\s|\W|$)" if sys.version_info >= (3, 11) else r"\s(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)"
)


def _wrep_sub(m: re.Match[str]) -> str:
    c, cc, e = m.groups()
    return f" {TK_WREP} {len(cc.split()) + 2} {c} {e}"


@config_safe
def replace_wrep(t: str) -> str:
    """Word repetitions of 3 or more: `word word word word` → ` xxwrep 4 word `."""
    # A match needs two equal whitespace-separated words in a row and a third that starts with the word: C-speed
    # checks first. Then fastai's regex runs from where the first such word can start (nothing matches before it,
    # and the regex looks at nothing behind where it starts): the same text
    # (tests/test_rules.py::test_fast_rules_equal_fastai_formulas)
    ws = t.split()
    pairs = itertools.compress(range(len(ws) - 2), map(operator.eq, ws, ws[1:]))
    first = next((i for i in pairs if ws[i + 2].startswith(ws[i])), None)
    if first is None:
        return t
    m = _RE_WREP.match(t)  # at the start of the text, where `^` can stand for the whitespace
    if m is not None:
        return _wrep_sub(m) + _RE_WREP_WS.sub(_wrep_sub, t[m.end() :])
    start = max(t.find(ws[first]) - 1, 0)  # at or before the whitespace in front of that word
    return t[:start] + _RE_WREP_WS.sub(_wrep_sub, t[start:])


@config_safe
def spec_add_spaces(t: str) -> str:
    """Put spaces around `/`, `#` and `\\`, so they are tokens of their own."""
    # fastai's `re.sub(r"([/#\\])", r" \1 ", t)`; `str.replace` finds the characters at C speed, and no replacement
    # brings a character another one looks for
    return t.replace("/", " / ").replace("#", " # ").replace("\\", " \\ ")


@config_safe
def rm_useless_spaces(t: str) -> str:
    """Collapse runs of spaces into one."""
    while "  " in t:  # fastai's `re.sub(" {2,}", " ", t)`: each pass halves every run of spaces
        t = t.replace("  ", " ")
    return t


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


# a word that starts with a capital; the capital comes first in the pattern (the whitespace before it is checked
# behind), so the regex engine skips to capitals instead of trying every character
_RE_CAP_WORD = re.compile(r"[A-Z](?<!\S[A-Z])\S*")
_RE_CAP_WORD2 = re.compile(r"[A-Z](?<!\S[A-Z])\S+")  # of 2 characters or more
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


def _mark_caps(m: re.Match[str]) -> str:
    w = m.group()
    if _HAS_LOWER.search(w) is None:
        return f"{TK_UP} {w}"
    if _HAS_UPPER.search(w, 1) is None:
        return f"{TK_MAJ} {w}"
    return w


def _caps_lowercase(t: str) -> str:
    """`replace_all_caps`, `replace_maj` and `lowercase` (its defaults) in one pass: what the tokenizer runs for the
    three in a row (the default rules). `lowercase` lowercases the whole text, so the caps rules only have to insert
    their markers, and only before words of 2 characters or more."""
    return f"{BOS} " + _RE_CAP_WORD2.sub(_mark_caps, t).lower().strip()


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
