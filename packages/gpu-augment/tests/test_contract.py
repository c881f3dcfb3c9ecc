"""Every transform honours the batch contract of `gpu_augment.testing.check_kernel`, on CPU and (when present) CUDA."""

import pytest
import torch

from gpu_augment import (
    AffineCoordTfm,
    Brightness,
    Contrast,
    Dihedral,
    Flip,
    Hue,
    LightingTfm,
    RandomErasing,
    RandomResizedCropGPU,
    Resize,
    Rotate,
    Saturation,
    Warp,
    Zoom,
    aug_transforms,
)
from gpu_augment.testing import check_kernel
from typedtensor import TensorBBox, TensorImage, TensorMask, TensorPoint


def sample(n=5, h=18, w=24):
    g = torch.Generator().manual_seed(0)
    return (
        TensorImage(torch.rand(n, 3, h, w, generator=g)),
        TensorMask(torch.randint(0, 4, (n, h, w), generator=g)),
        TensorPoint(torch.rand(n, 3, 2, generator=g) * torch.tensor([w, h]), canvas_size=(h, w)),
        TensorBBox(torch.tensor([[2.0, 3, 10, 12], [0, 0, 0, 0]]).expand(n, 2, 4).clone(), canvas_size=(h, w)),
    )


TFMS = [
    Flip(),
    Flip(vertical=True),
    Dihedral(),
    Rotate(30),
    Zoom(1, 1.5),
    Warp(0.3),
    RandomResizedCropGPU((10, 14), min_scale=0.3),
    Resize(12, method="crop"),
    Resize((20, 12), method="pad"),
    AffineCoordTfm([Flip(), Rotate(), Warp()], pad_mode="border"),
    Brightness(),
    Contrast(space="linear"),
    Saturation(),
    Hue(),
    LightingTfm([Brightness(p=1.0), Saturation(p=1.0)], space="linear"),
    *aug_transforms(),
]


@pytest.mark.parametrize("tfm", TFMS, ids=lambda t: type(t).__name__)
def test_contract(tfm):
    torch.manual_seed(1)
    check_kernel(tfm, sample())


def test_check_kernel_catches_in_place_modification():
    class Bad(Brightness):
        pass

    @Bad.encodes.dispatch
    def _(self, x: TensorImage) -> TensorImage:
        return x.mul_(0.5)

    with pytest.raises(AssertionError, match="modified in place"):
        check_kernel(Bad(), sample()[0])


@pytest.mark.gpu
@pytest.mark.parametrize("tfm", TFMS, ids=lambda t: type(t).__name__)
def test_cuda_batches_stay_on_the_device_and_match_cpu(tfm):
    torch.manual_seed(2)
    out = tfm(tuple(e.cuda() for e in sample()))
    assert all(o.device.type == "cuda" for o in out)
    check_kernel(tfm, sample())  # compares CPU with CUDA under the same draw


@pytest.mark.gpu
def test_random_erasing_on_cuda():
    out = RandomErasing(p=1.0)(TensorImage(torch.rand(4, 3, 8, 8, device="cuda")))
    assert out.device.type == "cuda"
