"""`to_tensor` and `ToTensor`: a dispatched conversion another package extends for its own types."""

import numpy as np
import pytest
import torch
from PIL import Image

from datablock import Conversion, DataLoader, ToTensor, to_tensor
from typedtensor import TensorImage, TensorImageBW, TensorMask


class ToyMask(Image.Image):
    """A downstream type: a PIL image that is a segmentation mask (as apps-vision's PILMask)."""


def _mask_image(h=3, w=4):
    img = Image.new("L", (w, h))
    img.putpixel((1, 2), 5)
    mask = ToyMask()
    mask.__dict__.update(img.__dict__)  # the same pixels, typed as a mask
    return mask


def test_builtin_conversions():
    rgb = Image.new("RGB", (4, 3), (10, 20, 30))
    t = to_tensor(rgb)
    assert type(t) is TensorImage and t.shape == (3, 3, 4) and t[:, 0, 0].tolist() == [10, 20, 30]
    bw = to_tensor(Image.new("L", (4, 3), 7))
    assert type(bw) is TensorImageBW and bw.shape == (1, 3, 4)
    arr = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    assert torch.equal(to_tensor(arr).as_subclass(torch.Tensor), torch.from_numpy(arr).permute(2, 0, 1))


def test_unknown_type_is_refused_by_the_function_and_passed_through_by_the_transform():
    with pytest.raises(TypeError, match=r"no conversion for str.*@to_tensor.register"):
        to_tensor("dog")
    assert ToTensor()(("dog", 3)) == ("dog", 3)


def test_registration_reaches_ToTensor_and_existing_instances():
    conv = Conversion("conv", [lambda x: x])  # a private table, so this test does not change to_tensor
    assert conv.handles(int)
    existing = ToTensor()
    mask = _mask_image()
    assert type(existing(mask)) is TensorImageBW  # before: a mask is just an 'L' image

    class Sub(ToTensor):
        pass

    def _toy_mask(x: ToyMask) -> TensorMask:
        return TensorMask(torch.from_numpy(np.array(x)).long())

    # ToyMask exists only in this module, so the registration changes nothing for other tests
    to_tensor.register(_toy_mask)
    out = existing(mask)
    assert type(out) is TensorMask and out.shape == (3, 4) and int(out[2, 1]) == 5
    assert type(Sub()(mask)) is TensorMask and type(to_tensor(mask)) is TensorMask
    assert type(existing(Image.new("L", (2, 2)))) is TensorImageBW  # the base type is untouched


def test_to_tensor_leaves_cached_targets_alone_in_a_loader():
    from datablock import CategoryBlock, DataBlock, TransformBlock

    imgs = [Image.new("RGB", (4, 4), (i, i, i)) for i in range(8)]
    dblock = DataBlock(
        blocks=(TransformBlock(), CategoryBlock),
        get_x=lambda i: imgs[i],
        get_y=lambda i: "ab"[i % 2],
        splitter=lambda items: (list(range(6)), [6, 7]),
        item_tfms=[ToTensor()],
    )
    dls = dblock.dataloaders(list(range(8)), bs=2, shuffle=False)
    x, y = dls.valid.one_batch()
    assert type(x) is TensorImage and x.shape == (2, 3, 4, 4) and y.tolist() == [0, 1]
    assert isinstance(dls.train, DataLoader)
