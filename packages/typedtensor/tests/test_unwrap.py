import torch

from typedtensor import as_plain


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
