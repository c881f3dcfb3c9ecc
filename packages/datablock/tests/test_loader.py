import warnings

import pytest
import torch
from torch.utils.data import DataLoader as TorchDataLoader
from torch.utils.data import TensorDataset

from datablock import DataLoader, SkipItem
from typedtensor import TensorCategory, TensorImage, TensorPoint


class Squares:
    """A map-style dataset of (typed tensor, plain int) samples."""

    def __init__(self, n=10, skip=()):
        self.n, self.skip = n, set(skip)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i in self.skip:
            raise SkipItem(f"item {i} is corrupt")
        return TensorPoint(torch.full((1, 2), float(i)), canvas_size=(8, 8)), i


def _ids(batches):
    return [b[1].tolist() for b in batches]


def test_sequential_batches_and_len():
    dl = DataLoader(Squares(10), bs=4)
    assert len(dl) == 3 and _ids(dl) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dl = DataLoader(Squares(10), bs=4, drop_last=True)
    assert len(dl) == 2 and _ids(dl) == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.slow
def test_seeded_shuffle_same_with_and_without_workers():
    runs = {}
    for nw in (0, 2):
        dl = DataLoader(Squares(12), bs=5, shuffle=True, num_workers=nw, generator=torch.Generator().manual_seed(7))
        runs[nw] = [_ids(dl), _ids(dl)]
    assert runs[0] == runs[2]
    epoch1, epoch2 = runs[0]
    assert sorted(i for b in epoch1 for i in b) == list(range(12)) and epoch1 != epoch2


def test_shuffle_follows_torch_manual_seed():
    torch.manual_seed(3)
    a = _ids(DataLoader(Squares(20), bs=20, shuffle=True))
    torch.manual_seed(3)
    assert _ids(DataLoader(Squares(20), bs=20, shuffle=True)) == a
    assert a != [list(range(20))]


@pytest.mark.slow
def test_workers_keep_types_and_metadata():
    dl = DataLoader(Squares(8), bs=4, num_workers=2)
    batches = list(dl)
    x, _ = batches[1]
    assert type(x) is TensorPoint and x.canvas_size == (8, 8) and x.shape == (4, 1, 2)
    assert torch.equal(x.as_subclass(torch.Tensor)[:, 0, 0], torch.tensor([4.0, 5, 6, 7]))
    assert isinstance(batches[0], tuple)


def test_hooks_run_in_order_and_where_documented():
    calls = []

    def after_item(s):
        calls.append("item")
        return (s[0] * 2, s[1])

    def before_batch(items):
        calls.append(f"before_batch:{len(items)}")
        return items[::-1]

    def after_batch(b):
        calls.append("batch")
        assert type(b[0]) is TensorPoint  # collated with its type
        return (b[0] + 1, b[1])

    dl = DataLoader(Squares(3), bs=3, after_item=after_item, before_batch=before_batch, after_batch=after_batch)
    (x, y), *_ = list(dl)
    assert calls == ["item", "item", "item", "before_batch:3", "batch"]
    assert y.tolist() == [2, 1, 0] and x.as_subclass(torch.Tensor)[:, 0, 0].tolist() == [5.0, 3.0, 1.0]


def test_skip_item_warns_with_count():
    dl = DataLoader(Squares(10, skip={2, 7}), bs=4)
    with pytest.warns(UserWarning, match=r"skipped 2 item\(s\).*\[2, 7\].*item 2 is corrupt"):
        ids = _ids(dl)
    assert ids == [[0, 1, 3], [4, 5, 6], [8, 9]] and dl.n_skipped == 2


def test_fast_path_matches_tensor_dataset_and_keeps_types():
    x = TensorImage(torch.randn(37, 3, 2, 2))
    y = TensorCategory(torch.arange(37), vocab=[str(i) for i in range(37)])
    ours = list(DataLoader((x, y), bs=8))
    ref = list(TorchDataLoader(TensorDataset(x.as_subclass(torch.Tensor), y.as_subclass(torch.Tensor)), batch_size=8))
    assert len(ours) == len(ref) == 5
    for (a, b), (ra, rb) in zip(ours, ref, strict=True):
        assert torch.equal(a.as_subclass(torch.Tensor), ra) and torch.equal(b.as_subclass(torch.Tensor), rb)
        assert type(a) is TensorImage and type(b) is TensorCategory and b.vocab == y.vocab
    dl = DataLoader(TensorDataset(torch.arange(10.0)), bs=3, shuffle=True, drop_last=True)
    got = torch.cat([b[0] for b in dl])
    assert len(got) == 9 and len(set(got.tolist())) == 9
    assert DataLoader(torch.arange(6), bs=4).one_batch().tolist() == [0, 1, 2, 3]


@pytest.mark.slow
def test_fast_path_through_workers():
    x, y = torch.arange(20.0).view(10, 2), torch.arange(10)
    g = torch.Generator().manual_seed(1)
    a = _ids(DataLoader((x, y), bs=3, shuffle=True, generator=g, num_workers=0))
    g = torch.Generator().manual_seed(1)
    b = _ids(DataLoader((x, y), bs=3, shuffle=True, generator=g, num_workers=2))
    assert a == b and sorted(i for b in a for i in b) == list(range(10))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"bs=8 is larger than the dataset \(5 items\) and drop_last=True"):
        DataLoader(Squares(5), bs=8, drop_last=True)
    with pytest.raises(ValueError, match="either sampler or shuffle"):
        DataLoader(Squares(5), sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="bs must be a positive int"):
        DataLoader(Squares(5), bs=0)
    with pytest.raises(TypeError, match="indexable dataset"):
        DataLoader(iter([1, 2]))
    with pytest.raises(ValueError, match="no batch"):
        DataLoader(Squares(0)).one_batch()


def test_sampler_and_batch_sampler():
    assert _ids(DataLoader(Squares(6), bs=2, sampler=[5, 4, 3])) == [[5, 4], [3]]
    assert _ids(DataLoader(Squares(6), batch_sampler=[[1, 2, 3], [0]])) == [[1, 2, 3], [0]]


def test_new_one_batch_device_n_inp_decode():
    dl = DataLoader(Squares(10), bs=4, after_batch=lambda b: (b[0] * 10, b[1]))
    dl2 = dl.new(bs=2, shuffle=False)
    assert dl2.bs == 2 and dl.bs == 4 and _ids([dl2.one_batch()]) == [[0, 1]]
    with pytest.raises(TypeError, match="unknown argument"):
        dl.new(batch_size=3)
    assert dl.to("cpu") is dl and dl.device == torch.device("cpu")
    assert dl.one_batch()[0].device.type == "cpu"
    assert dl.n_inp == 1 and DataLoader(Squares(2), n_inp=2).n_inp == 2
    items = dl.decode_batch(dl.one_batch(), max_n=2)
    assert len(items) == 2 and type(items[1][0]) is TensorPoint and float(items[1][0][0, 0]) == 10.0


@pytest.mark.slow
def test_persistent_workers_two_epochs():
    dl = DataLoader(Squares(6), bs=3, num_workers=2, persistent_workers=True, prefetch_factor=2)
    assert _ids(dl) == _ids(dl) == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.gpu
def test_device_transfer_and_pin_memory_on_gpu():
    dl = DataLoader(Squares(8), bs=4, device="cuda", pin_memory=True, num_workers=2)
    x, _ = dl.one_batch()
    assert x.device.type == "cuda" and type(x) is TensorPoint and x.canvas_size == (8, 8)
    assert all(b[0].device.type == "cuda" for b in dl)
    fast = DataLoader((torch.zeros(8, 2), torch.arange(8)), bs=4, device="cuda")
    assert all(b[1].device.type == "cuda" for b in fast)


def test_pin_memory_without_gpu_is_harmless():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ids(DataLoader(Squares(4), bs=2, pin_memory=True)) == [[0, 1], [2, 3]]


def test_unpicklable_pipeline_under_spawn_falls_back_to_zero_workers_with_one_warning():
    dl = DataLoader(Squares(4), bs=2, num_workers=2, multiprocessing_context="spawn", after_item=lambda s: s)
    with pytest.warns(UserWarning, match=r"num_workers=2 changed to 0: the start method 'spawn'.*pickl"):
        assert _ids(dl) == [[0, 1], [2, 3]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert _ids(dl) == [[0, 1], [2, 3]]
    assert dl.num_workers == 0
