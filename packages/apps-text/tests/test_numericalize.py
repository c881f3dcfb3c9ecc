from collections import Counter

import pytest
import torch

from apps_text import SPECIAL_TOKENS, Numericalize, make_vocab
from typedtensor import TensorText


def test_make_vocab_fastai_rules():
    count = Counter({"a": 5, "b": 3, "c": 2, "xxmaj": 9})
    vocab = make_vocab(count, min_freq=3)
    assert vocab[:9] == list(SPECIAL_TOKENS) and vocab[9:11] == ["a", "b"] and "c" not in vocab
    assert len(vocab) % 8 == 0 and vocab[11:] == ["xxfake"] * 5
    assert make_vocab(count, min_freq=1, max_vocab=10)[9] == "a" and len(make_vocab(count, max_vocab=10)) == 16


def test_numericalize_setup_encode_decode():
    num = Numericalize(min_freq=2)
    num.setup([["a", "b", "a"], ["b", "c"]])
    ids = num(["a", "b", "zzz"])
    assert isinstance(ids, TensorText) and ids.tolist() == [9, 10, 0]
    assert num.decode(ids) == ["a", "b", "xxunk"]
    again = Numericalize(vocab=num.vocab)  # the vocab is plain data: a list of str
    assert torch.equal(again(["b", "a"]), torch.tensor([10, 9]))
    with pytest.raises(Exception, match="list of tokens"):
        num("not tokens")
