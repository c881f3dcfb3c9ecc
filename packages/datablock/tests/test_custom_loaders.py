"""Custom loaders: subclass arguments through `new()`, batch order, `before_iter`, per-split arguments, `add_tfms`."""

import pytest
import torch

from datablock import DataLoader, DataLoaders, Datasets, Normalize
from dispatch_transforms import Transform
from typedtensor import TensorImage


class Lengths:
    """Items of varying size: item i is a tensor of `lens[i]` copies of i."""

    def __init__(self, lens):
        self.lens = lens

    def __len__(self):
        return len(self.lens)

    def __getitem__(self, i):
        return (torch.full((self.lens[i],), i),)


class SortedDL(DataLoader):
    """Items sorted by length, longest first (`reverse` to flip); counts its passes in `before_iter`."""

    def __init__(self, dataset, reverse: bool = False, **kwargs):
        super().__init__(dataset, **kwargs)
        self.reverse = reverse
        self.init_kwargs["reverse"] = reverse
        self.passes = 0

    def get_idxs(self):
        lens = self.dataset.lens
        return sorted(range(len(lens)), key=lambda i: lens[i], reverse=not self.reverse)

    def before_iter(self):
        self.passes += 1


def first_of_each(dl):
    return [int(b[0][0]) for b in dl]


def test_get_idxs_orders_batches_and_before_iter_runs_each_pass():
    dl = SortedDL(Lengths([1, 5, 3, 4, 2]), bs=2, collate_fn=lambda items: [it[0] for it in items])
    batches = [[int(t[0]) for t in b] for b in dl]
    assert batches == [[1, 3], [2, 4], [0]]
    assert len(dl) == 3 and dl.passes == 1
    list(dl)
    assert dl.passes == 2


def test_new_keeps_a_subclass_argument():
    dl = SortedDL(Lengths([1, 5, 3]), bs=1, reverse=True, collate_fn=lambda items: items[0])
    copy = dl.new(bs=3)
    assert type(copy) is SortedDL and copy.reverse is True and copy.bs == 3
    assert copy.new(reverse=False).reverse is False
    with pytest.raises(TypeError, match="unknown argument"):
        dl.new(nonsense=1)


def test_new_refuses_a_subclass_that_does_not_record_its_arguments():
    class Forgetful(DataLoader):
        def __init__(self, dataset, seq_len: int = 72, **kwargs):
            super().__init__(dataset, **kwargs)
            self.seq_len = seq_len

    dl = Forgetful(torch.arange(4), seq_len=10)
    with pytest.raises(TypeError, match=r"\['seq_len'\] are not in init_kwargs"):
        dl.new()


def test_a_subclass_that_wraps_its_dataset_records_the_raw_one():
    class Doubled(DataLoader):
        def __init__(self, dataset, **kwargs):
            super().__init__(torch.cat([dataset, dataset]), **kwargs)
            self.init_kwargs["dataset"] = dataset  # what new() must pass again: the raw data

    dl = Doubled(torch.arange(3), bs=6)
    assert dl.new().one_batch().tolist() == [0, 1, 2, 0, 1, 2]


def test_before_iter_may_replace_the_dataset():
    class Growing(DataLoader):
        def before_iter(self):
            self.dataset = torch.arange(len(self.dataset) + 1)

    dl = Growing(torch.arange(2), bs=10)
    assert next(iter(dl)).tolist() == [0, 1, 2]
    assert next(iter(dl)).tolist() == [0, 1, 2, 3]


def test_per_split_arguments_of_from_dsets():
    ds = Datasets(list(range(10)), [[lambda i: torch.tensor(float(i))]], splits=[list(range(6)), list(range(6, 10))])
    dls = DataLoaders.from_dsets(ds, bs=2, val_bs=4)
    assert dls.train.bs == 2 and dls.valid.bs == 4
    buckets = [[3, 1], [0, 2]]
    dls = DataLoaders.from_dsets(ds, bs=2, dl_kwargs=[{}, {"batch_sampler": buckets}])
    assert [b[0].tolist() for b in dls.valid] == [[9.0, 7.0], [6.0, 8.0]]
    assert dls.train.batch_sampler is None
    with pytest.raises(ValueError, match="one dict each"):
        DataLoaders.from_dsets(ds, dl_kwargs=[{}])


def test_dl_kwargs_reach_a_datablock_loader_too():
    from datablock import DataBlock, TransformBlock

    dblock = DataBlock(blocks=(TransformBlock(),), n_inp=1, splitter=lambda items: (list(range(6)), [6, 7, 8]))
    dls = dblock.dataloaders([torch.tensor(float(i)) for i in range(9)], bs=3, val_bs=1)
    assert dls.valid.bs == 1 and len(dls.valid) == 3


class Twice(Transform):
    def encodes(self, x: TensorImage):
        return x * 2


def test_add_tfms_after_creation():
    x = TensorImage(torch.arange(24.0).view(6, 1, 2, 2))
    ds = Datasets(list(range(6)), [[lambda i: x[i]]], splits=[[0, 1, 2, 3], [4, 5]])
    dls = DataLoaders.from_dsets(ds, bs=2, shuffle_train=False)
    before = dls.valid.one_batch()[0]
    dls.add_tfms([Twice()], "after_batch")
    after = dls.valid.one_batch()[0]
    assert torch.equal(after.as_subclass(torch.Tensor), before.as_subclass(torch.Tensor) * 2)
    assert type(after) is TensorImage
    copied = dls.valid.new(bs=1).one_batch()[0]  # new() copies keep the added transforms
    assert torch.equal(copied.as_subclass(torch.Tensor), before[:1].as_subclass(torch.Tensor) * 2)
    dls.add_tfms(Normalize(), "after_batch", loaders=0)  # learns its stats from the training loader
    norm = dls.train.after_batch.fs[-1]
    assert not norm.needs_batch and len(dls.valid.after_batch.fs) == 1
    dls.add_tfms([Twice()], "after_item", loaders=[1])
    assert torch.equal(dls.valid.one_batch()[0].as_subclass(torch.Tensor), before.as_subclass(torch.Tensor) * 4)
    with pytest.raises(ValueError, match="event must be one of"):
        dls.add_tfms([Twice()], "after_epoch")


def test_add_tfms_keeps_a_single_whole_batch_function():
    dl = DataLoader(torch.arange(4.0), bs=4, after_batch=lambda b: b.sum().view(1))  # the whole batch
    dl.add_tfms(Transform(enc=lambda t: t + 1), "after_batch")
    assert dl.one_batch().tolist() == [7.0]
