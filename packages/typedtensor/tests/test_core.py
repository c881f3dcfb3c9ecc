"""Type and metadata retention over a table of torch ops, for every semantic type."""

import copy

import pytest
import torch
import torch.nn.functional as F

import typedtensor
from typedtensor import (
    TensorBase,
    TensorBBox,
    TensorCategory,
    TensorImage,
    TensorImageBW,
    TensorMask,
    TensorMultiCategory,
    TensorPoint,
    TensorText,
    as_plain,
)
from typedtensor.testing import check_typed_op


class TensorSpectrogram(TensorImage):
    """A user-declared type with its own metadata on top of an image's."""

    _meta = ("sample_rate",)


# Every type with a (2, 4, k) sample shape and metadata values to check after each op.
SAMPLES: dict[type, tuple[tuple[int, ...], dict]] = {
    TensorBase: ((2, 4, 4), {}),
    TensorImage: ((2, 4, 4), {}),
    TensorImageBW: ((2, 4, 4), {}),
    TensorSpectrogram: ((2, 4, 4), {"sample_rate": 16000}),
    TensorMask: ((2, 4, 4), {"codes": ["background", "cat", "dog"]}),
    TensorPoint: ((2, 4, 2), {"canvas_size": (30, 40)}),
    TensorBBox: ((2, 2, 4), {"canvas_size": (30, 40)}),
    TensorCategory: ((2, 4, 4), {"vocab": ["a", "b", "c"]}),
    TensorMultiCategory: ((2, 4, 4), {"vocab": ["a", "b", "c", "d"]}),
    TensorText: ((2, 4, 4), {"vocab": ["xxpad", "the", "cat"]}),
}


def make(typ: type) -> TensorBase:
    shape, meta = SAMPLES[typ]
    n = shape[0] * shape[1] * shape[2]
    data = (torch.arange(n, dtype=torch.float32) - n // 3).reshape(shape)
    return typ(data, **meta)


def _grid(x):
    theta = torch.tensor([[[0.8, 0.1, 0.05], [-0.1, 0.9, 0.0]]])
    return F.affine_grid(theta, [1, *x.shape], align_corners=False)


def _inplace(method, *args):
    def op(x):
        out = getattr(x, method)(*args)
        assert out is x  # in place: the very same object comes back
        return out

    op.__name__ = f"{method}"
    return op


def _iadd(x):
    y = x
    y += 2
    assert y is x
    return y


def _setitem(x):
    x[0, 0] = 7.0
    return x


OPS = {
    # arithmetic and comparison operators
    "add_scalar": lambda x: x + 1,
    "radd": lambda x: 1 + x,
    "add_plain": lambda x: x + torch.ones(x.shape),
    "plain_add_typed": lambda x: torch.ones(x.shape) + x,
    "sub": lambda x: x - 0.5,
    "rsub": lambda x: 3 - x,
    "mul": lambda x: x * 2,
    "truediv": lambda x: x / 4,
    "floordiv": lambda x: x // 3,
    "pow": lambda x: x**2,
    "neg": lambda x: -x,
    "abs": lambda x: abs(x),
    "gt": lambda x: x > 2,
    "eq": lambda x: x == 3,
    "le": lambda x: x <= 0,
    "torch_add_kw": lambda x: torch.add(torch.zeros(x.shape), other=x),
    # in-place
    "add_": _inplace("add_", 1),
    "mul_": _inplace("mul_", 3),
    "clamp_": _inplace("clamp_", 0, 5),
    "zero_": _inplace("zero_"),
    "iadd": _iadd,
    "setitem": _setitem,
    # indexing, slicing, boolean masks
    "index_int": lambda x: x[0],
    "slice": lambda x: x[:, 1:],
    "ellipsis": lambda x: x[..., :1],
    "bool_mask": lambda x: x[x > 1],
    "fancy": lambda x: x[[1, 0]],
    "index_select": lambda x: x.index_select(1, torch.tensor([1, 0])),
    "gather": lambda x: x.gather(0, torch.zeros(x.shape, dtype=torch.long)),
    # shape ops
    "view": lambda x: x.view(-1),
    "reshape": lambda x: x.reshape(x.shape[0], -1),
    "permute": lambda x: x.permute(2, 0, 1),
    "flatten": lambda x: x.flatten(),
    "squeeze": lambda x: x[None].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "transpose": lambda x: x.transpose(0, 1),
    "contiguous": lambda x: x.transpose(0, 1).contiguous(),
    "expand": lambda x: x[None].expand(3, *x.shape),
    "split": lambda x: x.split(1),
    "unbind": lambda x: torch.unbind(x, 0),
    "chunk": lambda x: x.chunk(2, dim=1),
    # joins
    "cat": lambda x: torch.cat([x, x]),
    "cat_plain_first": lambda x: torch.cat([torch.zeros(x.shape), x]),
    "stack": lambda x: torch.stack([x, x, x]),
    "where": lambda x: torch.where(x > 0, x, 0.0),
    "where_typed_other": lambda x: torch.where(x > 0, torch.zeros(x.shape), x),
    # dtype and device moves, copies, constructors
    "to_dtype": lambda x: x.to(torch.float64),
    "to_device": lambda x: x.to("cpu"),
    "to_device_dtype": lambda x: x.to("cpu", torch.float16),
    "float": lambda x: x.double().float(),
    "half": lambda x: x.half(),
    "long": lambda x: x.long(),
    "cpu": lambda x: x.cpu(),
    "clone": lambda x: x.clone(),
    "detach": lambda x: x.detach(),
    "new_zeros": lambda x: x.new_zeros(3, 2),
    "new_ones": lambda x: x.new_ones(2),
    "new_tensor": lambda x: x.new_tensor([1.0, 2.0]),
    "new_empty": lambda x: x.new_empty(2).fill_(1),
    "deepcopy": lambda x: copy.deepcopy(x),
    # reductions: the values keep the type
    "sum": lambda x: x.sum(),
    "mean_dim": lambda x: x.mean(dim=-1),
    "amax": lambda x: torch.amax(x, dim=0),
    "std": lambda x: x.std(dim=1),
    "max_dim_values": lambda x: x.max(dim=1).values,
    "cumsum": lambda x: x.cumsum(0),
    # torch.nn.functional
    "interpolate": lambda x: F.interpolate(x[None], scale_factor=2, mode="nearest"),
    "interpolate_bilinear": lambda x: F.interpolate(x[None], size=(6, 6), mode="bilinear", align_corners=False),
    "pad": lambda x: F.pad(x, (1, 1, 2, 0)),
    "grid_sample": lambda x: F.grid_sample(x[None], _grid(x), align_corners=False),
    "relu": lambda x: F.relu(x),
    "softmax": lambda x: F.softmax(x, dim=-1),
    "conv2d": lambda x: F.conv2d(x[None], torch.ones(1, 2, 3, 3), padding=1),
    "avg_pool2d": lambda x: F.avg_pool2d(x[None], 2),
}
CASES = [pytest.param(typ, name, id=f"{typ.__name__}-{name}") for typ in SAMPLES for name in OPS]


def test_op_table_is_large():
    assert len(OPS) >= 40


@pytest.mark.parametrize(("typ", "name"), CASES)
def test_op_keeps_type_metadata_and_values(typ, name):
    op = OPS[name]
    x = make(typ)
    expected_meta = SAMPLES[typ][1]
    reference = op(make(typ).as_subclass(torch.Tensor))  # the same op on plain data
    out = check_typed_op(op, x)
    for r in out if isinstance(out, (tuple, list)) else (out,):
        assert type(r) is typ
        assert r.meta == expected_meta
        for k, v in expected_meta.items():
            assert getattr(r, k) == v
    outs = out if isinstance(out, (tuple, list)) else (out,)
    refs = reference if isinstance(reference, (tuple, list)) else (reference,)
    for r, ref in zip(outs, refs, strict=True):
        assert type(ref) is torch.Tensor
        assert torch.equal(as_plain(r), ref)


@pytest.mark.parametrize("typ", list(SAMPLES))
def test_index_ops_return_plain_tensors(typ):
    x = make(typ)
    for out in (x.argmax(), torch.argmin(x, dim=1), x.argsort(dim=-1), x.nonzero(), torch.argwhere(x > 0)):
        assert type(out) is torch.Tensor
    values, indices = x.max(dim=0)
    assert type(values) is typ and values.meta == SAMPLES[typ][1]
    assert type(indices) is torch.Tensor
    top = torch.topk(x.flatten(), 3)
    assert type(top.values) is typ and type(top.indices) is torch.Tensor


def test_non_tensor_results_pass_through():
    x = make(TensorPoint)
    assert x.shape == torch.Size([2, 4, 2]) and type(x.shape) is torch.Size
    assert x.size() == (2, 4, 2) and x.dim() == 3 and x.ndim == 3
    assert x.dtype == torch.float32 and x.device == torch.device("cpu")
    assert x.tolist() == as_plain(x).tolist()
    assert x.sum().item() == as_plain(x).sum().item()


def test_an_op_returning_a_plain_input_leaves_that_tensor_plain():
    img = TensorImage(torch.rand(2, 2))
    plain = torch.zeros(2, 2)
    out = plain.type_as(img)  # same dtype: torch hands back `plain` itself
    assert type(plain) is torch.Tensor
    assert type(out) is TensorImage and out.data_ptr() == plain.data_ptr()
    held = torch.ones(3)
    out2 = torch.Tensor.to(held, img)
    assert type(held) is torch.Tensor and type(out2) is TensorImage


def test_results_do_not_alias_needlessly():
    x = TensorImage(torch.rand(4))
    y = x + 1
    assert type(y) is TensorImage and not y._is_view()  # a fresh result changed class, no alias made
    v = x[1:]
    assert v._is_view() and v.data_ptr() == x.data_ptr() + 4


def test_autograd_flows_through_typed_ops():
    x = TensorImage(torch.ones(2, 3), requires_grad=True)
    y = (x * 3).sum()
    assert type(y) is TensorImage
    y.backward()
    assert torch.equal(as_plain(x.grad), torch.full((2, 3), 3.0))


def test_first_typed_argument_wins_and_its_metadata():
    a = TensorPoint(torch.zeros(3, 2), canvas_size=(10, 10))
    b = TensorPoint(torch.ones(3, 2), canvas_size=(20, 30))
    assert torch.cat([a, b]).canvas_size == (10, 10)
    assert torch.stack([b, a]).canvas_size == (20, 30)
    cat = TensorCategory(torch.tensor([1.0, 2.0]), vocab=["x", "y", "z"])
    out = torch.zeros(3, 2) + cat[None, :1] + a  # plain first: the first *typed* argument decides
    assert type(out) is TensorCategory and out.vocab == ["x", "y", "z"]
    out2 = a + cat[:1]
    assert type(out2) is TensorPoint and out2.canvas_size == (10, 10)


def test_image_mask_rule_in_either_order():
    img = TensorImage(torch.rand(3, 4, 4))
    mask = TensorMask((torch.rand(4, 4) > 0.5).long(), codes=["bg", "fg"])
    assert type(img * mask) is TensorImage
    assert type(mask * img) is TensorImage
    assert type(torch.where(mask.bool(), img, 0.0)) is TensorImage
    bw = TensorImageBW(torch.rand(1, 4, 4))
    assert type(mask * bw) is TensorImageBW  # subclasses of the winner win too
    assert typedtensor.result_type(TensorMask, TensorImage) is TensorImage
    assert typedtensor.result_type(TensorMask, TensorPoint) is TensorMask
    assert typedtensor.result_type(torch.Tensor, TensorPoint) is TensorPoint
    assert typedtensor.result_type(torch.Tensor) is None
    assert typedtensor.mixed_rules[frozenset((TensorImage, TensorMask))] is TensorImage


def test_register_mixed_rule_and_bad_winner():
    class TensorHeatmap(TensorBase):
        pass

    pts = TensorPoint(torch.zeros(2, 2), canvas_size=(4, 4))
    heat = TensorHeatmap(torch.ones(2, 2))
    assert type(pts + heat) is TensorPoint
    try:
        typedtensor.register_mixed_rule(TensorPoint, TensorHeatmap, TensorHeatmap)
        assert typedtensor.mixed_rules[frozenset((TensorHeatmap, TensorPoint))] is TensorHeatmap
        assert type(pts + heat) is TensorHeatmap
        assert type(heat + pts) is TensorHeatmap
    finally:
        typedtensor.register_mixed_rule(TensorPoint, TensorHeatmap, None)
    assert type(pts + heat) is TensorPoint  # removed: first typed argument wins again
    with pytest.raises(TypeError):
        typedtensor.mixed_rules[frozenset((TensorHeatmap, TensorPoint))] = TensorPoint  # read-only view
    with pytest.raises(ValueError, match="winner must be TensorPoint or TensorHeatmap"):
        typedtensor.register_mixed_rule(TensorPoint, TensorHeatmap, TensorImage)


def test_subclass_metadata_adds_to_parents_and_defaults_to_none():
    class TensorAudioImage(TensorSpectrogram):
        _meta = ("channels",)

    assert TensorAudioImage._meta == ("sample_rate", "channels")
    x = TensorAudioImage(torch.zeros(1, 2, 2), sample_rate=8000)
    assert x.sample_rate == 8000 and x.channels is None
    assert x.meta == {"sample_rate": 8000}
    assert TensorPoint(torch.zeros(1, 2)).canvas_size is None


def test_metadata_name_clashing_with_tensor_attribute_is_refused():
    with pytest.raises(TypeError, match="'shape' is not usable as a metadata name"):

        class TensorBad(TensorBase):
            _meta = ("shape",)


def test_constructor_shares_memory_and_takes_options():
    data = torch.zeros(2, 3)
    x = TensorImage(data)
    x[0, 0] = 5
    assert data[0, 0] == 5
    y = TensorImage([[1, 2], [3, 4]], dtype=torch.float16)
    assert y.dtype == torch.float16 and type(y) is TensorImage
    z = TensorPoint(TensorPoint(torch.zeros(1, 2), canvas_size=(3, 4)))
    assert z.canvas_size == (3, 4)  # re-wrapping a typed tensor keeps the metadata it has
    assert TensorPoint(z, canvas_size=(5, 6)).canvas_size == (5, 6)


def test_repr_names_type_and_metadata():
    r = repr(TensorPoint([[1.0, 2.0]], canvas_size=(3, 4)))
    assert r.startswith("TensorPoint(") and "canvas_size=(3, 4)" in r


@pytest.mark.slow
def test_torch_compile_takes_and_returns_a_tensor_image():
    def brighten(x):
        h = x.shape[-1]  # attribute reads inside the compiled region too
        return (x * 1.5 + 0.1 * h / h).clamp(0, 1).to(x.dtype).to(x.device) + 0 * x.ndim

    compiled = torch.compile(brighten, backend="eager")
    x = TensorImage(torch.rand(3, 8, 8))
    out = compiled(x)
    assert type(out) is TensorImage
    assert torch.allclose(as_plain(out), brighten(as_plain(x)))
    inductor = torch.compile(brighten)
    out2 = inductor(x)  # a second compile of the same function must not reuse a wrong graph
    assert type(out2) is TensorImage
    assert torch.allclose(as_plain(out2), brighten(as_plain(x)))
    pts = TensorPoint(torch.rand(5, 2), canvas_size=(7, 9))
    out3 = inductor(pts)
    assert type(out3) is TensorPoint and out3.canvas_size == (7, 9)
    assert torch.allclose(as_plain(out3), brighten(as_plain(pts)))
