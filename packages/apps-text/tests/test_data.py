import pandas as pd
import pytest
import torch

from apps_text import LMDataLoader, LMTensorText, SortedDL, TextDataLoaders
from datablock import PadInput
from typedtensor import TensorText

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()


def _df(n=40):
    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(n):
        k = int(torch.randint(1, 12, (1,), generator=g))
        rows.append((" ".join(WORDS[(i + j) % 10] for j in range(k)), "ab"[i % 2], i >= n - 8))
    return pd.DataFrame(rows, columns=["text", "label", "is_valid"])


def _docs(n, lo=3, hi=20):
    g = torch.Generator().manual_seed(1)
    return [(LMTensorText(torch.randint(2, 50, (int(torch.randint(lo, hi, (1,), generator=g)),), generator=g)),)
            for _ in range(n)]  # fmt: skip


def test_lm_loader_streams_are_contiguous_windows():
    docs = _docs(30)
    dl = LMDataLoader(docs, bs=4, seq_len=5)
    stream = torch.cat([d[0] for d in docs]).as_subclass(torch.Tensor)
    bl = (stream.numel() - 1) // 4
    batches = list(dl)
    x = torch.cat([b[0].as_subclass(torch.Tensor) for b in batches], 1)
    y = torch.cat([b[1].as_subclass(torch.Tensor) for b in batches], 1)
    assert x.shape == (4, bl)  # every token of the 4 streams, once, in order
    for s in range(4):
        assert torch.equal(x[s], stream[s * bl : (s + 1) * bl])
        assert torch.equal(y[s], stream[s * bl + 1 : (s + 1) * bl + 1])
    assert all(b[0].shape[1] == 5 for b in batches[:-1]) and len(dl) == len(batches)


def test_lm_loader_batches_by_slicing_equal_the_windows_stacked():
    # batches come from one slice of the streams (columns); they must equal the per-window items, stacked
    docs = _docs(40)
    for bs, seq_len, workers in ((4, 5, 0), (3, 7, 0), (1, 4, 0), (4, 5, 2)):
        dl = LMDataLoader(docs, bs=bs, seq_len=seq_len, num_workers=workers)
        batches = list(dl)
        assert len(batches) == dl.dataset.n_batches
        for k, (x, y) in enumerate(batches):
            items = [dl.dataset[k * bs + r] for r in range(bs)]
            assert type(x) is LMTensorText and type(y) is TensorText
            assert torch.equal(
                x.as_subclass(torch.Tensor), torch.stack([i[0].as_subclass(torch.Tensor) for i in items])
            )
            assert torch.equal(
                y.as_subclass(torch.Tensor), torch.stack([i[1].as_subclass(torch.Tensor) for i in items])
            )
    # windows of different batches in one batch (a custom sampler): stacked one by one, still right
    dl = LMDataLoader(docs, bs=2, seq_len=5)
    mixed = dl.new(batch_sampler=[[0, 3], [1, 2]])
    (x0, y0), _ = list(mixed)
    assert torch.equal(
        x0.as_subclass(torch.Tensor), torch.stack([dl.dataset[0][0], dl.dataset[3][0]]).as_subclass(torch.Tensor)
    )
    assert torch.equal(
        y0.as_subclass(torch.Tensor), torch.stack([dl.dataset[0][1], dl.dataset[3][1]]).as_subclass(torch.Tensor)
    )


def test_lm_loader_shuffles_documents_each_pass():
    docs = _docs(30)
    dl = LMDataLoader(docs, bs=2, seq_len=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    first = torch.cat([b[0] for b in dl], 1)
    second = torch.cat([b[0] for b in dl], 1)
    assert not torch.equal(first, second)
    assert sorted(first.flatten().tolist()) != [] and dl.new(bs=3).seq_len == 8  # new() keeps its own arguments


def test_sorted_dl_batches_similar_lengths_padded_first():
    docs = [(torch.arange(2, 2 + n),) for n in (3, 9, 1, 7, 5, 2)]
    dl = SortedDL(docs, bs=2, before_batch=PadInput(pad_idx=1, pad_first=True))
    b = [x for (x,) in dl]
    assert [x.shape[1] for x in b] == [9, 5, 2]  # longest first
    assert b[0][1].tolist() == [1, 1, *range(2, 9)]  # padded before the text
    shuffled = SortedDL(docs * 60, bs=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    idxs = list(shuffled.get_idxs())
    assert sorted(idxs) == list(range(360)) and shuffled.res[idxs[0]] == 9  # the longest batch first


def test_text_dataloaders_from_df_classifier():
    dls = TextDataLoaders.from_df(_df(), text_col="text", label_col="label", valid_col="is_valid", bs=8, seq_len=4,
                                  min_freq=1)  # fmt: skip
    x, y = dls.one_batch()
    assert x.shape[0] == 8 and y.shape == (8,) and dls.c == 2
    lens = (x != 1).sum(1)
    assert (lens[:-1] >= lens[1:]).all()  # sorted within a batch (SortedDL), so SentenceEncoder can chunk
    assert "alpha" in dls.text_vocab and dls.text_vocab[:2] == ["xxunk", "xxpad"]
    table = dls.show_batch(max_n=3)
    assert isinstance(table, pd.DataFrame) and table.shape[0] == 3 and table.iloc[0, 0].startswith("xxbos")


def test_text_dataloaders_from_df_lm_and_vocab_sharing():
    df = _df()
    dls_lm = TextDataLoaders.from_df(df, text_col="text", is_lm=True, valid_col="is_valid", bs=4, seq_len=6,
                                     min_freq=1)  # fmt: skip
    x, y = dls_lm.one_batch()
    assert x.shape == (4, 6) and torch.equal(x[:, 1:].as_subclass(torch.Tensor), y[:, :-1].as_subclass(torch.Tensor))
    dls = TextDataLoaders.from_df(df, text_col="text", label_col="label", valid_col="is_valid", bs=4,
                                  text_vocab=dls_lm.text_vocab)  # fmt: skip
    assert dls.text_vocab == dls_lm.text_vocab


def test_text_dataloaders_from_folder(tmp_path):
    for split, n in (("train", 6), ("test", 2)):
        for label in ("pos", "neg"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(n):
                (tmp_path / split / label / f"{i}.txt").write_text(f"This is {label} text {i}.", encoding="utf-8")
    dls = TextDataLoaders.from_folder(tmp_path, valid="test", bs=4, min_freq=1)
    assert len(dls.train_ds) == 12 and len(dls.valid_ds) == 4 and list(dls.vocab) == ["neg", "pos"]
    lm = TextDataLoaders.from_folder(tmp_path, is_lm=True, valid_pct=0.25, seed=0, bs=2, seq_len=4, min_freq=1)
    assert lm.one_batch()[0].shape == (2, 4)
    with pytest.raises(ValueError, match="seq_len"):
        LMDataLoader([], seq_len=0)
