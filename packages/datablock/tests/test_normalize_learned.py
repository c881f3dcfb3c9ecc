"""`Normalize()` without stats learns them from the first batch of the loader it is given to."""

import pytest
import torch

from datablock import DataLoader, IntToFloatTensor, Normalize
from datablock.config import step_from_config, step_to_config
from typedtensor import TensorImage


class Images:
    """uint8 images whose three channels have different levels, with an int label."""

    def __init__(self, n=12):
        g = torch.Generator().manual_seed(0)
        base = torch.randint(0, 100, (n, 3, 4, 4), generator=g, dtype=torch.uint8)
        self.x = base + torch.tensor([0, 60, 120], dtype=torch.uint8).view(1, 3, 1, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return TensorImage(self.x[i]), i


def test_stats_are_learned_from_the_first_batch_after_the_steps_before():
    ds = Images()
    norm = Normalize()
    dl = DataLoader(ds, bs=6, after_batch=[IntToFloatTensor(), norm])
    first = ds.x[:6].double() / 255  # the first batch (no shuffle) as IntToFloatTensor leaves it
    assert norm.mean == pytest.approx(first.mean((0, 2, 3)).tolist())
    assert norm.std == pytest.approx(first.std((0, 2, 3)).tolist())
    x, _ = next(iter(dl))
    assert isinstance(x, TensorImage)
    plain = x.as_subclass(torch.Tensor)
    assert plain.mean((0, 2, 3)).abs().max() < 1e-5
    assert (plain.std((0, 2, 3)) - 1).abs().max() < 1e-5
    assert torch.allclose(dl.decode((x,))[0].as_subclass(torch.Tensor).float(), ds.x[:6].float())


def test_learned_stats_are_shared_by_loaders_built_after_and_saved_in_config():
    norm = Normalize()
    DataLoader(Images(), bs=4, after_batch=[IntToFloatTensor(), norm])
    valid = DataLoader(Images(6), bs=3, after_batch=[IntToFloatTensor(), norm])
    assert not norm.needs_batch and valid.after_batch.fs[-1].mean == norm.mean
    again = step_from_config(step_to_config(norm))
    assert again.mean == norm.mean and again.std == norm.std


def test_normalize_without_stats_outside_a_loader_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"no mean/std yet.*from_stats"):
        Normalize()(TensorImage(torch.zeros(3, 2, 2)))
    with pytest.raises(ValueError, match="both mean and std"):
        Normalize(mean=[0.5])


def test_a_constant_channel_cannot_be_learned():
    class Flat(Images):
        def __getitem__(self, i):
            return TensorImage(torch.full((3, 2, 2), 7, dtype=torch.uint8)), i

    with pytest.raises(ValueError, match="std must not contain 0"):
        DataLoader(Flat(), bs=4, after_batch=[IntToFloatTensor(), Normalize()])
