"""Tokenization: a fast built-in word splitter, rules around it, and whole corpora tokenized once, in parallel.

`WordTokenizer` is one compiled regular expression (no dependency) that splits like spaCy's English rules
on the cases that matter for a language model: words, numbers, contractions (`do n't`, `i 'm`), punctuation
as tokens, `...` kept whole, newlines as tokens. `Tokenizer` applies fastai's rules before it and the
post-rules after it; `tokenize_texts`/`tokenize_df`/`tokenize_folder` run it over many documents with
datablock's `parallel_gen` (the same output as one process, in order) and count tokens and lengths.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from apps_text.inputs import text_list
from apps_text.rules import (
    BOS,
    EOS,
    FLD,
    PAD,
    TK_MAJ,
    TK_REP,
    TK_UP,
    TK_WREP,
    _caps_lowercase,
    default_post_rules,
    default_rules,
    lowercase,
    replace_all_caps,
    replace_caps,
    replace_maj,
    replace_space,
)
from datablock import get_files, parallel_gen
from dispatch_transforms import Transform

__all__ = [
    "WordTokenizer",
    "TokenizeWithRules",
    "Tokenizer",
    "tokenize1",
    "tokenize_texts",
    "tokenize_df",
    "tokenize_folder",
    "decode_tokens",
    "TEXT_EXTENSIONS",
    "TitledStr",
    "count_tokens",
    "read_counter",
]

TEXT_EXTENSIONS = (".txt",)

# spaCy's English exceptions that a plain split misses, for texts the rules lowercased: contractions written
# without an apostrophe ("dont" → "do nt"), and abbreviations that keep their final period ("e.g.", "a.").
# The split forms are spaCy's (tests/test_tokenize.py::test_word_tokenizer_exceptions checks a few against it).
_NT = "ai are ca could dare did does do had has have is may might must need ought sha should was were wo would"
_NT_VE = "ca could did does do had may might must need ought sha should wo would"
_PRON = {  # pronoun or wh-word → the apostrophe-less endings spaCy splits off it
    "he": "d ll s", "i": "d ll m ve", "it": "d ll", "she": "d ll s", "that": "d ll s", "there": "d ll re s ve",
    "these": "d ll re ve", "they": "d ll re ve", "this": "d ll s", "those": "d ll re ve", "we": "d ve",
    "what": "d ll re s ve", "when": "d ll re s ve", "where": "d ll re s ve", "who": "d ll s ve",
    "why": "d ll re s ve", "you": "d ll re ve", "how": "d ll re s ve",
}  # fmt: skip


def _exceptions() -> dict[str, list[str]]:
    exc: dict[str, list[str]] = {w + "nt": [w, "nt"] for w in _NT.split()}
    exc.update({w + "ntve": [w, "nt", "ve"] for w in _NT_VE.split()})
    for w, ends in _PRON.items():
        for e in ends.split():
            exc[w + e] = [w, e]
            if e in ("d", "ll"):
                exc[w + e + "ve"] = [w, e, "ve"]
    exc["wellve"] = ["we", "ll", "ve"]
    for w in ("ill", "hell", "shell", "shed"):
        del exc[w]  # real words: spaCy keeps them
    exc.update({"cannot": ["can", "not"], "gonna": ["gon", "na"], "gotta": ["got", "ta"], "ima": ["i", "m", "a"]})
    exc.update({"couldve": ["could", "ve"], "mightve": ["might", "ve"], "mustve": ["must", "ve"]})
    exc.update({"shouldve": ["should", "ve"], "wouldve": ["would", "ve"], "notve": ["not", "ve"], "yall": ["y", "all"]})
    exc.update({a: [a] for a in ("e.g.", "i.e.", "a.m.", "p.m.", "vs.", "v.s.", "co.")})
    exc.update({f"{c}.": [f"{c}."] for c in "abcdefghijklmnopqrstuvwxyz"})
    return exc


_EXCEPTIONS = _exceptions()

# whitespace that is not a single space: spaCy makes it a token (less one leading space, which belongs to the word
# before), e.g. "\n", "\n\n " or " " for two spaces
_WS = re.compile(r"(\s{2,}|[^\S ])")
_W = r"[^\W_]+(?:_+[^\W_]+)*"  # letters and digits, underscores inside only (spaCy splits "_" off the ends)
# what spaCy does not split inside a chunk: "." unless before a capital, "," unless between letters, ":<>=" unless
# before a letter, "-" unless before a letter or between digits, "(" (it splits brackets off the ends only)
_JOIN = r"""(?:\.(?![A-Z])_*|(?<![^\W\d_]),|,(?![^\W\d_])|[:<>=](?![^\W\d_])|(?<!\d)-(?![^\W\d_])|\(['"]?)"""
_CHUNK = re.compile(
    rf"""
    [^\W_]+(?=n't(?!\w))                 # "do" of "don't", "ca" of "can't" (spaCy's split)
  | n't(?!\w)
  | (?<=\w)'(?:s|m|re|ve|ll|d)(?!\w)     # 's 'm 're 've 'll 'd after a word
  | (?:e\.g|i\.e|a\.m|p\.m|v\.s|vs)\.(?!\w)  # abbreviations spaCy keeps whole
  | (?:^\.|-(?=\d))?{_W}(?:{_JOIN}{_W})*  # words, numbers (3.14 1,000 -1 12:30 utf-8), names (os.path .append)
  | \.{{2,}} | -{{2,}} | '' | \):$        # ... -- '' stay whole, and "):" at the end (an emoticon to spaCy)
  | \S                                   # any other character on its own
    """,
    re.VERBOSE,
)


class WordTokenizer:
    """Split a text into words and punctuation like spaCy's English tokenizer, in pure Python: fast, no dependency,
    picklable. Words of letters only (most of them) are found by `str.split`; the rest go through one regular
    expression.

    >>> WordTokenizer()(["I don't know... e.g. 3.5 well-known"])
    [['I', 'do', "n't", 'know', '...', 'e.g.', '3.5', 'well', '-', 'known']]
    """

    config_safe = True  # rebuilt from plain data: it has no arguments

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.split(t) for t in text_list(texts, "WordTokenizer")]

    @staticmethod
    def split(text: str) -> list[str]:
        """The tokens of one text."""
        if "  " not in text:
            if text.isprintable():  # only single spaces: the common case after the rules
                return _split_words(text, [])
            if "\n" in text and text.replace("\n", "").isprintable():  # and newlines: paragraphs
                return _split_lines(text)
        out: list[str] = []
        pieces = _WS.split(text)
        _split_words(pieces[0], out)
        for i in range(1, len(pieces), 2):
            ws = pieces[i]
            out.append(ws[1:] if ws[0] == " " and out and len(ws) > 1 else ws)
            _split_words(pieces[i + 1], out)
        return out

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return "WordTokenizer()"


def _split_lines(text: str) -> list[str]:
    """The tokens of a text whose only whitespace is single spaces and newlines (what `WordTokenizer.split` does with
    its regex, by lines: a whitespace run is the spaces and newlines between two lines' words)."""
    out: list[str] = []
    run = ""
    for k, line in enumerate(text.split("\n")):
        if k:
            run += "\n"
        words = line.strip(" ")
        if not words:
            run += line
            continue
        lead = line.index(words[0])
        run += line[:lead]
        if run:
            out.append(run[1:] if run[0] == " " and out else run)
        _split_words(words, out)
        run = line[lead + len(words) :]
    if run and run != " ":
        out.append(run[1:] if run[0] == " " and out and len(run) > 1 else run)
    return out


_OPENING = frozenset("([{\"'")
_CLOSING_P = frozenset(",.;:!?)]}\"'")


_ALPHA_EXCEPTIONS = frozenset(w for w in _EXCEPTIONS if w.isalpha())


def _split_words(text: str, out: list[str]) -> list[str]:
    """Append the tokens of `text` (no whitespace but single spaces) to `out`."""
    ws = text.split(" ")
    append = out.append
    if _ALPHA_EXCEPTIONS.isdisjoint(ws):  # the common case, checked at C speed: a word of letters is a token
        for w in ws:
            if w.isalpha():
                append(w)
            elif w:
                _split_other(w, out)
        return out
    exc = _EXCEPTIONS
    for w in ws:
        if w.isalpha():
            e = exc.get(w)
            if e is None:
                append(w)
            else:
                out += e
        elif w:
            _split_other(w, out)
    return out


def _split_other(w: str, out: list[str]) -> None:
    """Append the tokens of a word that is not letters only."""
    exc = _EXCEPTIONS
    e = exc.get(w)
    if e is not None:
        out += e
    elif w[-1] in _CLOSING_P and w[:-1].isalpha() and w[:-1] not in exc:  # "word," "word." (common)
        out += (w[:-1], w[-1])
    elif w[0] in _OPENING and w[1:].isalpha() and w[1:] not in exc:  # "(word"
        out += (w[0], w[1:])
    else:
        out += _CHUNK.findall(w)


def _compose(rules: Sequence[Callable[[str], str]]) -> Callable[[str], str]:
    rules = list(rules)
    for i in range(len(rules) - 1):  # the same result in one pass (tests/test_tokenize.py::test_fused_rules_*)
        if rules[i] is replace_all_caps and rules[i + 1] is replace_maj:
            if i + 2 < len(rules) and rules[i + 2] is lowercase:
                rules[i : i + 3] = [_caps_lowercase]
            else:
                rules[i : i + 2] = [replace_caps]
            break

    def run(t: str) -> str:
        for r in rules:
            t = r(t)
        return t

    return run


class TokenizeWithRules:
    """`tok` (a callable: list of texts → list of token lists) with `rules` before it and `post_rules` on
    each token after it (fastai's `TokenizeWithRules`). Picklable when its parts are: a worker of `parallel_gen`."""

    def __init__(
        self,
        tok: Any = None,
        rules: Sequence[Callable[[str], str]] | None = None,
        post_rules: Sequence[Callable[[str], str]] | None = None,
    ) -> None:
        self.tok = WordTokenizer() if tok is None else tok
        self.rules = default_rules() if rules is None else list(rules)
        self.post_rules = default_post_rules() if post_rules is None else list(post_rules)

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        return [_unpack(x) for x in self._packed(texts)]

    def _packed(self, texts: Iterable[str]) -> list[Any]:
        """The tokens of each text as one string, joined by `_SEP` (what a worker process sends back: pickling one
        string costs far less than pickling its tokens), or as a list when a token holds `_SEP` or there is none."""
        pre = _compose(self.rules)
        toks = self.tok([pre(_as_text(t)) for t in text_list(texts, "TokenizeWithRules")])
        # the default post-rule changes only tokens holding a space: one `str.replace` on the joined tokens at C
        # speed instead of a Python call per token (tools/bench/text_tokenize.py)
        space = len(self.post_rules) == 1 and self.post_rules[0] is replace_space
        post = _compose(self.post_rules) if self.post_rules and not space else None
        out: list[Any] = []
        for ws in toks:
            if post is not None:
                ws = [post(w) for w in ws]
            joined = _SEP.join(ws)
            if ws and joined.count(_SEP) == len(ws) - 1:
                out.append(joined.replace(" ", "▁") if space else joined)
            else:  # no token, or a token holds the separator
                out.append([w.replace(" ", "▁") for w in ws] if space else list(ws))
        return out


_SEP = "\x00"


def _unpack(x: Any) -> list[str]:
    return x.split(_SEP) if isinstance(x, str) else x  # a list: empty, or a token held the separator


def _as_text(t: Any) -> str:
    if isinstance(t, str):
        return t
    raise TypeError(f"tokenize: expected a str, got {type(t).__name__} ({t!r:.60})")


def tokenize1(text: str, tok: Any = None, rules: Sequence[Callable[[str], str]] | None = None) -> list[str]:
    """The tokens of one text, with fastai's rules by default."""
    return TokenizeWithRules(tok, rules)([text])[0]


class _Maker:
    """A picklable `make_worker` for `parallel_gen`: each process builds its tokenizer once."""

    def __init__(self, tok: Any, rules: Any, post_rules: Any, reader: Callable[[Any], str] | None) -> None:
        self.tok, self.rules, self.post_rules, self.reader = tok, rules, post_rules, reader

    def __call__(self) -> Callable[[Sequence[Any]], list[Any]]:
        twr = TokenizeWithRules(self.tok, self.rules, self.post_rules)
        reader = self.reader
        return lambda chunk: twr._packed([reader(o) for o in chunk] if reader is not None else chunk)


def tokenize_texts(
    texts: Iterable[Any],
    tok: Any = None,
    rules: Sequence[Callable[[str], str]] | None = None,
    post_rules: Sequence[Callable[[str], str]] | None = None,
    n_workers: int | None = 0,
    chunksize: int = 256,
    reader: Callable[[Any], str] | None = None,
) -> Iterator[list[str]]:
    """The token lists of `texts`, in order, over `n_workers` processes (0: this process), `chunksize` texts
    at a time so memory stays bounded by the chunks in flight. `reader` turns an item into its text (a file).

    A tokenizer with a `setup(texts, rules)` method (the subword backends) is set up once on all the texts
    (it learns its vocabulary there) before the work is split over processes."""
    setup = getattr(tok, "setup", None)
    if callable(setup):
        texts = list(texts)
        rules_ = default_rules() if rules is None else rules
        setup([_as_text(reader(o)) for o in texts] if reader is not None else texts, rules_)
    for x in parallel_gen(_Maker(tok, rules, post_rules, reader), texts, n_workers, chunksize, progress=False):
        yield _unpack(x)


def _join_fields(row: Sequence[Any], mark_fields: bool) -> str:
    if len(row) == 1 and not mark_fields:
        return str(row[0])
    return "".join(f" {FLD} {i + 1} {v}" for i, v in enumerate(row))


def tokenize_df(
    df: pd.DataFrame,
    text_cols: str | int | Sequence[str | int] = 0,
    n_workers: int | None = 0,
    rules: Sequence[Callable[[str], str]] | None = None,
    mark_fields: bool | None = None,
    tok: Any = None,
    tok_text_col: str = "text",
) -> tuple[pd.DataFrame, Counter[str]]:
    """Tokenize `text_cols` of `df` (several are joined with `xxfld i` markers, as fastai): a copy of `df` whose
    `tok_text_col` holds the token lists (other text columns dropped) plus `text_length`, and the token counts."""
    cols = [text_cols] if isinstance(text_cols, (str, int)) else list(text_cols)
    names = [df.columns[c] if isinstance(c, int) else c for c in cols]
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise KeyError(f"tokenize_df: no column {missing} in the DataFrame (columns: {list(df.columns)})")
    mark = len(names) > 1 if mark_fields is None else mark_fields
    texts = [_join_fields(r, mark) for r in df[names].itertuples(index=False, name=None)]
    toks = list(tokenize_texts(texts, tok, rules, n_workers=n_workers))
    out = df.drop(columns=[c for c in names if c != tok_text_col]).copy()
    out[tok_text_col] = toks
    out["text_length"] = [len(t) for t in toks]
    return out, count_tokens(toks)


def count_tokens(toks: Iterable[Sequence[str]]) -> Counter[str]:
    """How often each token occurs."""
    c: Counter[str] = Counter()
    for t in toks:
        c.update(t)
    return c


def _read_text(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def tokenize_folder(
    path: str | Path,
    extensions: Sequence[str] = TEXT_EXTENSIONS,
    folders: Sequence[str] | None = None,
    output_dir: str | Path | None = None,
    n_workers: int | None = 0,
    rules: Sequence[Callable[[str], str]] | None = None,
    tok: Any = None,
    skip_if_exists: bool = True,
) -> Path:
    """Tokenize every text file under `path` into `output_dir` (default: `<path>_tok`, as fastai), same relative
    names, tokens separated by spaces; writes `counter.json` and `lengths.json` there. Returns `output_dir`.

    With `skip_if_exists` (the default) a folder already holding `counter.json` is reused as it is: delete it
    after changing the files or the rules."""
    path = Path(path)
    out = Path(output_dir) if output_dir is not None else path.parent / f"{path.name}_tok"
    if skip_if_exists and (out / "counter.json").exists():
        return out
    files = list(get_files(path, extensions=extensions, folders=folders))
    if not files:
        raise FileNotFoundError(f"tokenize_folder: no files with extensions {list(extensions)} under {path}")
    counts: Counter[str] = Counter()
    lengths: dict[str, int] = {}
    for f, toks in zip(files, tokenize_texts(files, tok, rules, n_workers=n_workers, reader=_read_text), strict=True):
        rel = Path(f).relative_to(path)
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(" ".join(toks), encoding="utf-8")
        counts.update(toks)
        lengths[rel.as_posix()] = len(toks)
    (out / "lengths.json").write_text(json.dumps(lengths), encoding="utf-8")
    (out / "counter.json").write_text(json.dumps(dict(counts)), encoding="utf-8")  # written last: marks "done"
    return out


def read_counter(tok_path: str | Path) -> Counter[str]:
    """The token counts `tokenize_folder` wrote."""
    return Counter(json.loads((Path(tok_path) / "counter.json").read_text(encoding="utf-8")))


_NO_SPACE_BEFORE = {"n't", "'s", "'m", "'re", "'ve", "'ll", "'d"}
_CLOSING = set(".,;:!?)]}%")
_NO_SPACE_AFTER = {"(", "[", "{", "$", "#"}


def decode_tokens(tokens: Sequence[str]) -> str:
    """Readable text from tokens: `xxmaj`/`xxup` restore case, `xxrep`/`xxwrep` expand, `xxbos`/`xxeos`/`xxpad`
    disappear, punctuation and contractions join their word, `▁` becomes a space. Not byte-exact: whitespace
    and the case of words the rules did not mark are normalised.

    Subword pieces are joined into words first: SentencePiece-style pieces (`▁` starts a word) and WordPiece
    continuations (`##`)."""
    tokens = _merge_pieces(tokens)
    words: list[str] = []
    i, n = 0, len(tokens)
    case: str | None = None
    while i < n:
        t = tokens[i]
        if t in (BOS, EOS, PAD):
            i += 1
            continue
        if t in (TK_MAJ, TK_UP):
            case, i = t, i + 1
            continue
        if t in (TK_REP, TK_WREP) and i + 2 < n and tokens[i + 1].isdigit():
            count, w = int(tokens[i + 1]), tokens[i + 2]
            words.append(w * count if t == TK_REP else " ".join([w] * count))
            i += 3
            continue
        if t == FLD:
            words.append("\n")
            i += 2 if i + 1 < n and tokens[i + 1].isdigit() else 1
            continue
        t = t.replace("▁", " ")
        if "\n" in t and t.isspace():
            t = "\n" * t.count("\n")  # spaCy's "\n " token: the newline is what reads
        if case == TK_MAJ:
            t = t[:1].upper() + t[1:]
        elif case == TK_UP:
            t = t.upper()
        case = None
        words.append(t)
        i += 1
    text = ""
    for w in words:
        glue = w in _NO_SPACE_BEFORE or set(w) <= _CLOSING or w[:1].isspace()
        if not text or glue or text[-1].isspace() or text[-1] in _NO_SPACE_AFTER:
            text += w
        else:
            text += " " + w
    return text.strip(" ")


_SPECIAL = frozenset((BOS, EOS, PAD, FLD, TK_MAJ, TK_UP, TK_REP, TK_WREP, "xxunk"))


def _merge_pieces(tokens: Sequence[str]) -> Sequence[str]:
    """Subword pieces joined into words (special tokens stay alone); word tokens are returned as they are."""
    sp = any(len(t) > 1 and t[0] == "▁" and t[1] != "▁" for t in tokens)
    wp = any(t.startswith("##") and len(t) > 2 for t in tokens)
    if not (sp or wp):
        return tokens
    words: list[str] = []
    glue_next = False  # the word before is a special token: the next piece starts a word
    for t in tokens:
        bare = t[1:] if sp and t.startswith("▁") else t
        if bare in _SPECIAL:
            words.append(bare)
            glue_next = False
        elif sp and t.startswith("▁"):
            words.append(bare)
            glue_next = True
        elif wp and t.startswith("##") and words and glue_next:
            words[-1] += t[2:]
        elif sp and words and glue_next:
            words[-1] += t
        else:
            words.append(t)
            glue_next = True
    return words


class Tokenizer(Transform):
    """A text (a `str`, a text file `Path`, or a DataFrame row with `text_cols`) → its list of tokens, with
    fastai's rules; decodes by joining with `sep`.

    At setup (on all the items of a `Datasets`, training and validation) every text is tokenized once, over
    `n_workers` processes in chunks, and kept: an epoch never tokenizes again (with datablock's `cache_all`, the
    token ids are kept too). Items it has not seen (`test_dl`, `predict`) are tokenized when they come.
    """

    config_safe = True  # rebuilt from plain data: its tokenizer, rules and settings are names and values

    order = 3  # before Numericalize
    retain = False  # tokens as a plain list, texts as a `TitledStr`
    train_setup = False  # tokenize every item up front, validation included

    def __init__(
        self,
        tok: Any = None,
        rules: Sequence[Callable[[str], str]] | None = None,
        post_rules: Sequence[Callable[[str], str]] | None = None,
        text_cols: Any = None,
        sep: str = " ",
        n_workers: int | None = None,
        chunksize: int = 256,
    ) -> None:
        super().__init__()
        self.tok = WordTokenizer() if tok is None else tok
        self.rules = default_rules() if rules is None else list(rules)
        self.post_rules = default_post_rules() if post_rules is None else list(post_rules)
        self.text_cols, self.sep, self.n_workers, self.chunksize = text_cols, sep, n_workers, chunksize
        self._twr = TokenizeWithRules(self.tok, self.rules, self.post_rules)
        self._memo: dict[Any, list[str]] = {}

    @classmethod
    def from_df(
        cls,
        text_cols: Any = 0,
        tok: Any = None,
        rules: Sequence[Callable[[str], str]] | None = None,
        sep: str = " ",
        n_workers: int | None = None,
    ) -> Tokenizer:
        """A tokenizer for rows of a DataFrame: `text_cols` (names or positions; several are joined with
        `xxfld i` markers as fastai)."""
        return cls(tok, rules, text_cols=text_cols, sep=sep, n_workers=n_workers)

    @classmethod
    def from_folder(
        cls, tok: Any = None, rules: Sequence[Callable[[str], str]] | None = None, n_workers: int | None = None
    ) -> Tokenizer:
        """A tokenizer for text files (items are `Path`s, read as UTF-8)."""
        return cls(tok, rules, n_workers=n_workers)

    def _key_text(self, x: Any) -> tuple[Any, Callable[[], str]] | None:
        """The memo key of an item and how to get its text (lazily: a file is read in the worker)."""
        if isinstance(x, str):
            return x, lambda: x
        if isinstance(x, Path):
            return ("path", str(x)), lambda: _read_text(x)
        if isinstance(x, pd.Series) and self.text_cols is not None:
            cols = [self.text_cols] if isinstance(self.text_cols, (str, int)) else list(self.text_cols)
            values = [x.iloc[c] if isinstance(c, int) else x[c] for c in cols]
            text = _join_fields(values, len(values) > 1)
            return text, lambda: text
        return None

    def setups(self, items: Any) -> None:
        if items is None:
            return
        todo: dict[Any, Any] = {}
        for o in items:
            kt = self._key_text(o)
            if kt is not None and kt[0] not in self._memo:
                todo[kt[0]] = o if isinstance(o, Path) else kt[1]()
        if not todo:
            return
        paths = [v for v in todo.values() if isinstance(v, Path)]
        n_workers = 0 if len(todo) <= self.chunksize else self.n_workers
        if paths and len(paths) == len(todo):
            toks = tokenize_texts(paths, self.tok, self.rules, self.post_rules, n_workers, self.chunksize, _read_text)
        else:
            texts = [_read_text(v) if isinstance(v, Path) else v for v in todo.values()]
            toks = tokenize_texts(texts, self.tok, self.rules, self.post_rules, n_workers, self.chunksize)
        self._memo.update(zip(todo, toks, strict=True))

    def encodes(self, x: object) -> list[str]:
        if isinstance(x, (list, tuple)) and all(isinstance(w, str) for w in x):
            return list(x)  # already tokens
        kt = self._key_text(x)
        if kt is None:
            raise TypeError(
                f"Tokenizer: cannot tokenize a {type(x).__name__} ({x!r:.60}); expected a str, a file Path, a "
                "list of tokens or a DataFrame row (with text_cols)"
            )
        key, text = kt
        toks = self._memo.get(key)
        return list(toks) if toks is not None else self._twr([text()])[0]

    def decodes(self, x: object) -> object:
        if isinstance(x, (list, tuple)) and all(isinstance(w, str) for w in x):
            return TitledStr(self.sep.join(x))
        return x

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_memo"] = {}  # workers and copies tokenize what they meet; the loaders cache the ids
        return state


class TitledStr(str):
    """A string that shows itself as a title (decoded text in `show_batch`)."""

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        del kwargs
        if ctx is None:
            print(self)
            return None
        if hasattr(ctx, "title"):
            ctx.title = str(self)
        return ctx
