"""Numericalization: tokens → ids in a vocabulary learned from the training texts (fastai's `Numericalize`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from apps_text.rules import SPECIAL_TOKENS
from dispatch_transforms import Transform
from typedtensor import TensorText

__all__ = ["make_vocab", "Numericalize"]


def make_vocab(
    count: Counter[str], min_freq: int = 3, max_vocab: int = 60000, special_toks: Sequence[str] | None = None
) -> list[str]:
    """fastai's `make_vocab`: the `max_vocab` most common tokens seen at least `min_freq` times, the special tokens
    first (in their order), then padded with `xxfake` to a multiple of 8 (as fastai, 8 more when it already is one),
    which keeps embedding and output matrices aligned for fast matrix products."""
    if min_freq < 1 or max_vocab < 1:
        raise ValueError(f"make_vocab: min_freq and max_vocab must be >= 1, got {min_freq} and {max_vocab}")
    specials = list(SPECIAL_TOKENS if special_toks is None else special_toks)
    vocab = [o for o, c in count.most_common(max_vocab) if c >= min_freq]
    taken = set(specials)
    vocab = specials + [o for o in vocab if o not in taken]
    vocab = vocab[:max_vocab]
    return vocab + ["xxfake"] * (8 - len(vocab) % 8)


class Numericalize(Transform):
    """A list of tokens → `TensorText` of ids; unknown tokens map to id 0 (`xxunk`); decodes ids to tokens.

    The vocab is a plain list of strings: learned on the training texts at setup (`make_vocab` with `min_freq`,
    `max_vocab`, `special_toks`), or given (`vocab=`, e.g. a language model's, so a classifier shares its ids).
    """

    config_safe = True  # rebuilt from plain data: the vocab is a list of strings
    retain = False  # ids as a `TensorText`, decoded as a list of tokens: nothing to re-type

    order = 5
    train_setup = True  # the vocab comes from the training texts only

    def __init__(
        self,
        vocab: Sequence[str] | None = None,
        min_freq: int = 3,
        max_vocab: int = 60000,
        special_toks: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.min_freq, self.max_vocab = min_freq, max_vocab
        self.special_toks = None if special_toks is None else list(special_toks)
        self.vocab: list[str] | None = None
        self.o2i: dict[str, int] = {}
        if vocab is not None:
            self._set_vocab(list(vocab))

    def _set_vocab(self, vocab: list[str]) -> None:
        if not all(isinstance(v, str) for v in vocab):
            raise TypeError("Numericalize: vocab must be a list of str tokens")
        self.vocab = vocab
        # the first id of a token wins; 'xxfake' fillers are never produced (fastai's rule)
        self.o2i = {}
        for i, v in enumerate(vocab):
            if v != "xxfake":
                self.o2i.setdefault(v, i)
        self._proto = TensorText(torch.zeros(0, dtype=torch.long), vocab=self.vocab)

    def setups(self, items: Any) -> None:
        if self.vocab is not None or items is None:
            return
        count: Counter[str] = Counter()
        for toks in items:
            count.update(_tokens(toks))
        self._set_vocab(make_vocab(count, self.min_freq, self.max_vocab, self.special_toks))

    def encodes(self, x: object) -> TensorText:
        if isinstance(x, TensorText):
            return x
        if self.vocab is None:
            raise RuntimeError("Numericalize: no vocab yet; set it up on the training texts or pass vocab=")
        get = self.o2i.get
        ids = torch.tensor([get(t, 0) for t in _tokens(x)], dtype=torch.long)
        return TensorText.wrap(ids, like=self._proto)

    def decodes(self, x: TensorText) -> TensorText | list[str]:
        if self.vocab is None:
            return x
        vocab = self.vocab
        return [vocab[i] for i in x.as_subclass(torch.Tensor).flatten().tolist()]

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _tokens(x: Any) -> Iterable[str]:
    if isinstance(x, (list, tuple)) and all(isinstance(t, str) for t in x):
        return x
    raise TypeError(f"Numericalize: expected a list of tokens (str), got {type(x).__name__} ({x!r:.60})")
