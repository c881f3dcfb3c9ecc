"""`PadInput` (variable-length items padded in `before_batch`) and `cache_all` (results of any size kept)."""

import json

import pytest
import torch

from datablock import DataBlock, DataLoader, DataLoaders, Datasets, PadInput, SkipItem, TfmdLists, TransformBlock
from datablock.config import step_from_config, step_to_config
from dispatch_transforms import Transform
from typedtensor import TensorText


def test_pads_to_the_longest_like_fastai_pad_input():
    s = [(TensorText(torch.tensor([1, 2, 3]), vocab=None), 0), (TensorText(torch.tensor([4])), 1)]
    end = PadInput(pad_idx=0)(s)
    assert [x.tolist() for x, _ in end] == [[1, 2, 3], [4, 0, 0]] and [y for _, y in end] == [0, 1]
    assert type(end[1][0]) is TensorText
    assert [x.tolist() for x, _ in PadInput(pad_idx=9, pad_first=True)(s)] == [[1, 2, 3], [9, 9, 4]]
    # backwards: padded on the other side, then reversed (as fastai's pad_input)
    assert [x.tolist() for x, _ in PadInput(pad_idx=0, backwards=True)(s)] == [[3, 2, 1], [4, 0, 0]]


def test_chunked_padding_like_pad_input_chunk():
    s = [(torch.arange(1, 8),), (torch.tensor([9]),)]
    out = PadInput(pad_idx=0, pad_first=True, seq_len=4)(s)
    assert out[1][0].tolist() == [0, 0, 0, 0, 9, 0, 0]  # 6 pads: one chunk of 4 first, the remaining 2 after


def test_padding_in_a_loader_and_through_the_config():
    seqs = [torch.arange(n) + 1 for n in (3, 1, 4, 2)]
    dl = DataLoader([(s, i) for i, s in enumerate(seqs)], bs=2, before_batch=PadInput(pad_idx=0))
    x, y = next(iter(dl))
    assert x.tolist() == [[1, 2, 3], [1, 0, 0]] and y.tolist() == [0, 1]
    cfg = json.loads(json.dumps(step_to_config(PadInput(pad_idx=0, pad_fields=[0, 1], seq_len=8))))
    again = step_from_config(cfg)
    assert isinstance(again, PadInput) and again.pad_fields == [0, 1] and again.seq_len == 8 and again.pad_idx == 0


SEQ_STEPS = """
import torch
from datablock import config_safe


@config_safe
def make_seq(n):
    return torch.arange(1, n + 1)


@config_safe
def make_label(n):
    return float(n)
"""


def test_padding_survives_the_dataloaders_config(install_module):
    steps = install_module("tiers_test_pad_steps", SEQ_STEPS)  # a config names only installed, marked steps
    ds = Datasets([3, 1, 2], [[steps.make_seq], [steps.make_label]], splits=[[0, 1], [2]])
    dls = DataLoaders.from_dsets(ds, bs=2, before_batch=[PadInput(pad_idx=0)], shuffle_train=False)
    again = DataLoaders.from_config(json.loads(json.dumps(dls.to_config())), allow=("tiers_test_pad_steps",))
    xb = again.test_dl([1, 3], with_labels=False).one_batch()
    assert xb[0].tolist() == [[1, 0, 0], [1, 2, 3]]


def test_bad_fields_are_named():
    with pytest.raises(Exception, match="outside the samples' 2 elements"):
        PadInput(pad_fields=5)([(torch.ones(2), 0)])
    with pytest.raises(Exception, match="scalar"):
        PadInput(pad_fields=1)([(torch.ones(2), torch.tensor(0))])


class Counting:
    """A 'tokenizer' that counts its calls."""

    calls = 0

    def __call__(self, text):
        Counting.calls += 1
        if text == "bad":
            raise SkipItem("unreadable")
        return torch.tensor([len(w) for w in text.split()])


def test_cache_all_runs_the_pipeline_once_per_item():
    Counting.calls = 0
    texts = ["a bb ccc", "dddd", "e ff", "bad", "gg h i j"]
    tl = TfmdLists(texts, [Counting()], splits=[[0, 1, 2, 3], [4]], cache_all=True)
    assert Counting.calls == len(texts)  # once each, at setup
    n = Counting.calls
    assert tl[0].tolist() == [1, 2, 3] and tl[4].tolist() == [2, 1, 1, 1]
    valid = tl.valid
    assert valid[0].tolist() == [2, 1, 1, 1] and valid.store.lengths() == [4]
    assert tl.train.store.lengths() == [3, 1, 2, 0]
    with pytest.raises(SkipItem):
        tl[3]
    tl[0][0] = 99  # a caller editing its item does not change the kept value
    assert tl[0].tolist() == [1, 2, 3]
    assert Counting.calls == n  # reads and subsets never recompute


def test_cache_all_in_a_datablock_loader_over_two_epochs():
    Counting.calls = 0
    texts = ["a bb", "ccc", "dd e f", "g", "hh ii", "j k"]
    dblock = DataBlock(
        blocks=(TransformBlock(type_tfms=[Counting()], cache_all=True), TransformBlock(type_tfms=[len])),
        splitter=lambda items: (list(range(4)), [4, 5]),
    )
    dls = dblock.dataloaders(texts, bs=2, before_batch=PadInput(pad_idx=0), shuffle=False)
    n = Counting.calls
    for _ in range(2):
        assert [x.shape[0] for x, _ in dls.train] == [2, 2]
    assert Counting.calls == n  # no tokenization during the epochs


def test_cache_all_refuses_a_random_pipeline():
    class Jitter(Transform):
        split_idx = 0

    with pytest.raises(ValueError, match="random or split-only steps"):
        TfmdLists(["a"], [Jitter()], cache_all=True)
