from collections import namedtuple

import torch

from typedtensor import TensorImage, TensorPoint, as_plain


class _Sub(torch.Tensor):
    pass


def test_as_plain_recurses_and_shares_storage():
    t = torch.arange(4.0).as_subclass(_Sub)
    out = as_plain((t, [t], {"a": t}, 3))
    assert type(out[0]) is torch.Tensor
    assert type(out[1][0]) is torch.Tensor
    assert type(out[2]["a"]) is torch.Tensor
    assert out[3] == 3
    assert out[0].data_ptr() == t.data_ptr()


def test_as_plain_on_typed_batch_keeps_values_and_namedtuples():
    Batch = namedtuple("Batch", ["x", "y"])
    img = TensorImage(torch.rand(3, 2, 2))
    pts = TensorPoint(torch.rand(4, 2), canvas_size=(2, 2))
    out = as_plain(Batch(img, [pts]))
    assert type(out) is Batch
    assert type(out.x) is torch.Tensor and type(out.y[0]) is torch.Tensor
    assert torch.equal(out.x, img.as_subclass(torch.Tensor))
    plain = torch.ones(2)
    assert as_plain(plain) is plain


def test_as_plain_keeps_the_autograd_graph():
    img = TensorImage(torch.ones(2), requires_grad=True)
    (as_plain(img) * 2).sum().backward()
    assert torch.equal(img.grad.as_subclass(torch.Tensor), torch.full((2,), 2.0))
