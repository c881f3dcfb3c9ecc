"""Optional tokenizer backends: spaCy, SentencePiece and Hugging Face `tokenizers`, each an extra of apps-text.

Each backend is used wherever the built-in `WordTokenizer` is (`Tokenizer(tok=...)`, `tokenize_texts`,
`tokenize_df`, `tokenize_folder`, `TextBlock.from_df(tok=...)`): a callable from a list of texts to their token
lists, run after fastai's rules, so the special tokens the rules insert (`xxbos`, `xxmaj`...) stay single tokens.
The subword backends learn their vocabulary on your corpus at `setup(items, rules)` (fastai's flow), which the
tokenize functions call once, before splitting the work over processes.

Every backend is plain data once set up (`config_safe`): an export names the class and its arguments, and a
trained subword model travels as data inside them (SentencePiece's model as base64 text, `tokenizers`' JSON), read
back by the library that wrote it, never as code. Each is picklable for the worker processes (the spaCy pipeline
is rebuilt in each worker, the subword models are sent as their serialized form).
"""

from __future__ import annotations

import base64
import importlib
import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from apps_text.inputs import text_list
from apps_text.rules import SPECIAL_TOKENS, UNK

__all__ = ["SpacyTokenizer", "SentencePieceTokenizer", "HFTokenizer", "EU_LANGS"]

EU_LANGS: tuple[str, ...] = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu",
    "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)  # fmt: skip
"""Languages whose alphabets SentencePiece covers with fastai's higher `char_coverage` (0.99999)."""


def _require(module: str, extra: str, who: str) -> Any:
    """Import an optional dependency, or say which extra of apps-text installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{who} needs the optional package {module!r}, which is not installed: "
            f"pip install 'apps-text[{extra}]' (or pip install {module})"
        ) from e


def _texts(items: Iterable[Any], rules: Sequence[Callable[[str], str]] | None) -> list[str]:
    out = []
    for t in items:
        if not isinstance(t, str):
            raise TypeError(f"tokenizer setup: expected texts (str), got {type(t).__name__} ({t!r:.60})")
        for r in rules or ():
            t = r(t)
        out.append(t)
    return out


def _auto_vocab_sz(texts: Sequence[str], max_vocab_sz: int) -> int:
    """fastai's vocabulary size for a subword model: a quarter of the distinct words, a multiple of 8, >= 29."""
    words: set[str] = set()
    for t in texts:
        words.update(t.split())
        if len(words) // 4 > max_vocab_sz:
            return max_vocab_sz
    res = len(words) // 4
    res += -res % 8
    return max(res, 29)


class SpacyTokenizer:
    """spaCy's rule-based tokenizer for `lang` (`spacy.blank(lang)`: no model to download), as fastai's default
    tokenizer; `special_toks` are kept as single tokens. Needs the `spacy` extra (`pip install 'apps-text[spacy]'`).

    >>> SpacyTokenizer()(["xxbos xxmaj i don't know."])  # doctest: +SKIP
    [['xxbos', 'xxmaj', 'i', 'do', "n't", 'know', '.']]
    """

    config_safe = True  # rebuilt from its language and special tokens (plain data)

    def __init__(self, lang: str = "en", special_toks: Sequence[str] | None = None, buf_sz: int = 5000) -> None:
        _require("spacy", "spacy", "SpacyTokenizer")
        if not isinstance(lang, str):
            raise TypeError(f"SpacyTokenizer: lang must be a language code (str), got {type(lang).__name__}")
        self.lang, self.buf_sz = lang, buf_sz
        self.special_toks = list(SPECIAL_TOKENS if special_toks is None else special_toks)
        self._nlp: Any = None

    def _pipeline(self) -> Any:
        if self._nlp is None:
            spacy = _require("spacy", "spacy", "SpacyTokenizer")
            nlp = spacy.blank(self.lang)
            orth = importlib.import_module("spacy.symbols").ORTH
            for w in self.special_toks:
                nlp.tokenizer.add_special_case(w, [{orth: w}])
            self._nlp = nlp
        return self._nlp

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        docs = self._pipeline().pipe(map(str, text_list(texts, "SpacyTokenizer")), batch_size=self.buf_sz)
        return [[t.text for t in doc] for doc in docs]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_nlp": None}  # each worker builds its own pipeline (cheap, and not pickled)

    def __repr__(self) -> str:
        return f"SpacyTokenizer(lang={self.lang!r})"


class SentencePieceTokenizer:
    """A SentencePiece subword model (fastai's `SentencePieceTokenizer`): loaded from `sp_model` (a `.model` file)
    or from `model_proto` (the same model as base64 text, what an export holds), or trained at `setup` on your
    corpus after the rules, with `vocab_sz` pieces (default: fastai's estimate from the corpus, at most
    `max_vocab_sz`), `model_type` ("unigram", "bpe", "char", "word") and `char_coverage` (fastai's default:
    0.99999 for European languages, else 0.9998). The special tokens are user-defined symbols (never split).
    Needs the `sentencepiece` extra (`pip install 'apps-text[sentencepiece]'`).

    The trained model is kept in memory (and written to `cache_dir/spm.model` when `cache_dir` is given).
    """

    config_safe = True  # rebuilt from its settings and its model, which is data (a protobuf) read by sentencepiece

    def __init__(
        self,
        lang: str = "en",
        special_toks: Sequence[str] | None = None,
        sp_model: str | Path | None = None,
        vocab_sz: int | None = None,
        max_vocab_sz: int = 30000,
        model_type: str = "unigram",
        char_coverage: float | None = None,
        cache_dir: str | Path | None = None,
        model_proto: str | None = None,
    ) -> None:
        _require("sentencepiece", "sentencepiece", "SentencePieceTokenizer")
        self.lang, self.vocab_sz, self.max_vocab_sz, self.model_type = lang, vocab_sz, max_vocab_sz, model_type
        self.special_toks = list(SPECIAL_TOKENS if special_toks is None else special_toks)
        self.char_coverage = char_coverage
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.sp_model = None if sp_model is None else Path(sp_model)
        if model_proto is None and self.sp_model is not None:
            if not self.sp_model.is_file():
                raise FileNotFoundError(f"SentencePieceTokenizer: no model file {self.sp_model}")
            model_proto = base64.b64encode(self.sp_model.read_bytes()).decode("ascii")
        self.model_proto = model_proto
        self._sp: Any = None

    @property
    def trained(self) -> bool:
        """Whether there is a model (given or learned at `setup`)."""
        return self.model_proto is not None

    def _processor(self) -> Any:
        if self._sp is None:
            if self.model_proto is None:
                raise RuntimeError("SentencePieceTokenizer: no model yet: call setup(texts) or pass sp_model=")
            spm = _require("sentencepiece", "sentencepiece", "SentencePieceTokenizer")
            self._sp = spm.SentencePieceProcessor(model_proto=base64.b64decode(self.model_proto))
        return self._sp

    def setup(self, items: Iterable[str], rules: Sequence[Callable[[str], str]] | None = None) -> dict[str, Any]:
        """Train the model on `items` (after `rules`) unless there is one already."""
        if self.trained:
            return {"sp_model": self.sp_model}
        spm = _require("sentencepiece", "sentencepiece", "SentencePieceTokenizer")
        texts = _texts(items, rules)
        lines = [line for t in texts for line in t.split("\n") if line.strip()]  # fastai writes one text a line
        if not lines:
            raise ValueError("SentencePieceTokenizer: no text to train on")
        vocab_sz = _auto_vocab_sz(texts, self.max_vocab_sz) if self.vocab_sz is None else self.vocab_sz
        coverage = self.char_coverage
        if coverage is None:
            coverage = 0.99999 if self.lang in EU_LANGS else 0.9998
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=buf,
            vocab_size=vocab_sz,
            character_coverage=coverage,
            model_type=self.model_type,
            unk_id=len(self.special_toks),  # fastai's layout: the special tokens, then unk
            pad_id=-1,
            bos_id=-1,
            eos_id=-1,
            minloglevel=2,
            user_defined_symbols=["\u2581" + s for s in self.special_toks],
            hard_vocab_limit=False,
        )
        self.model_proto = base64.b64encode(buf.getvalue()).decode("ascii")
        self._sp = None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self.sp_model = self.cache_dir / "spm.model"
            self.sp_model.write_bytes(buf.getvalue())
        return {"sp_model": self.sp_model}

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        texts = text_list(texts, "SentencePieceTokenizer")
        if not self.trained:
            self.setup(texts)  # fastai trains on the first texts it is given
        return [list(p) for p in self._processor().encode(texts, out_type=str)]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sp": None}  # the model travels as model_proto; each process loads it once

    def __repr__(self) -> str:
        state = "trained" if self.trained else "untrained"
        return f"SentencePieceTokenizer(model_type={self.model_type!r}, {state})"


_HF_MODELS = ("bpe", "wordpiece", "unigram")


class HFTokenizer:
    """A Hugging Face `tokenizers` tokenizer (fast, in Rust): a `tokenizers.Tokenizer` you pass (or its JSON text,
    or a `Path` to a `tokenizer.json`), or one trained at `setup` on your corpus after the rules: `model` "bpe"
    (default) or "unigram" with SentencePiece-style pieces (`▁word`), or "wordpiece" (BERT-style `##piece`), with
    `vocab_sz` tokens (default: fastai's estimate, at most `max_vocab_sz`) seen at least `min_freq` times.
    `special_toks` are added as special tokens, matched as whole words only. Needs the `tokenizers` extra
    (`pip install 'apps-text[tokenizers]'`).

    The tokenizer is kept as its JSON text (`self.tokenizer`), which is what an export holds.
    """

    config_safe = True  # rebuilt from its settings and its tokenizer JSON, which `tokenizers` reads as data

    def __init__(
        self,
        tokenizer: Any = None,
        model: str = "bpe",
        vocab_sz: int | None = None,
        max_vocab_sz: int = 30000,
        min_freq: int = 2,
        special_toks: Sequence[str] | None = None,
    ) -> None:
        tk = _require("tokenizers", "tokenizers", "HFTokenizer")
        if model not in _HF_MODELS:
            raise ValueError(f"HFTokenizer: model must be one of {_HF_MODELS}, got {model!r}")
        self.model, self.vocab_sz, self.max_vocab_sz, self.min_freq = model, vocab_sz, max_vocab_sz, min_freq
        self.special_toks = list(SPECIAL_TOKENS if special_toks is None else special_toks)
        self._tok: Any = None
        if tokenizer is None:
            self.tokenizer: str | None = None
            return
        if isinstance(tokenizer, tk.Tokenizer):
            tok = tk.Tokenizer.from_str(tokenizer.to_str())  # a copy: the special tokens are added to it
        elif isinstance(tokenizer, Path):
            tok = tk.Tokenizer.from_file(str(tokenizer))
        elif isinstance(tokenizer, str) and tokenizer.lstrip().startswith("{"):
            tok = tk.Tokenizer.from_str(tokenizer)
        else:
            raise TypeError(
                "HFTokenizer: tokenizer must be a tokenizers.Tokenizer, its JSON text (Tokenizer.to_str()) or a Path "
                f"to a tokenizer.json, got {type(tokenizer).__name__} ({tokenizer!r:.60})"
            )
        tok.add_special_tokens(self._added(tk))
        self._tok, self.tokenizer = tok, tok.to_str()

    def _added(self, tk: Any) -> list[Any]:
        return [tk.AddedToken(s, single_word=True, normalized=False, special=True) for s in self.special_toks]

    @property
    def trained(self) -> bool:
        """Whether there is a tokenizer (given or learned at `setup`)."""
        return self.tokenizer is not None

    def _hf(self) -> Any:
        if self._tok is None:
            if self.tokenizer is None:
                raise RuntimeError("HFTokenizer: no tokenizer yet: call setup(texts) or pass tokenizer=")
            tk = _require("tokenizers", "tokenizers", "HFTokenizer")
            self._tok = tk.Tokenizer.from_str(self.tokenizer)
        return self._tok

    def setup(self, items: Iterable[str], rules: Sequence[Callable[[str], str]] | None = None) -> dict[str, Any]:
        """Train a `model` tokenizer on `items` (after `rules`) unless there is one already."""
        if self.trained:
            return {}
        tk = _require("tokenizers", "tokenizers", "HFTokenizer")
        texts = _texts(items, rules)
        if not any(t.strip() for t in texts):
            raise ValueError("HFTokenizer: no text to train on")
        vocab_sz = _auto_vocab_sz(texts, self.max_vocab_sz) if self.vocab_sz is None else self.vocab_sz
        specials = self._added(tk)
        pre, dec = tk.pre_tokenizers, tk.decoders
        if self.model == "wordpiece":
            tok = tk.Tokenizer(tk.models.WordPiece(unk_token=UNK))
            tok.pre_tokenizer, tok.decoder = pre.BertPreTokenizer(), dec.WordPiece()
            trainer = tk.trainers.WordPieceTrainer(
                vocab_size=vocab_sz, min_frequency=self.min_freq, special_tokens=specials
            )
        else:
            if self.model == "bpe":
                tok = tk.Tokenizer(tk.models.BPE(unk_token=UNK))
                trainer = tk.trainers.BpeTrainer(
                    vocab_size=vocab_sz, min_frequency=self.min_freq, special_tokens=specials
                )
            else:
                tok = tk.Tokenizer(tk.models.Unigram())
                trainer = tk.trainers.UnigramTrainer(vocab_size=vocab_sz, special_tokens=specials, unk_token=UNK)
            # split on whitespace first, so the spaces between special tokens give no lone "▁" pieces
            tok.pre_tokenizer = pre.Sequence([pre.WhitespaceSplit(), pre.Metaspace()])
            tok.decoder = dec.Metaspace()
        tok.train_from_iterator(texts, trainer)
        tok.add_special_tokens(specials)
        self._tok, self.tokenizer = tok, tok.to_str()
        return {}

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        texts = text_list(texts, "HFTokenizer")
        if not self.trained:
            self.setup(texts)
        return [e.tokens for e in self._hf().encode_batch(texts, add_special_tokens=False)]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tok": None}  # the tokenizer travels as its JSON; each process loads it once

    def __repr__(self) -> str:
        state = "trained" if self.trained else "untrained"
        return f"HFTokenizer(model={self.model!r}, {state})"
