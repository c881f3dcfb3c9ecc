"""Shared layers (trainloop_callbacks.layers): shapes, fastai's init and formulas, export round trips."""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainloop_callbacks import Learner, MSELossFlat, load_learner
from trainloop_callbacks.inference.export import ExportError, build_module, describe_module
from trainloop_callbacks.layers import (
    AdaptiveConcatPool2d,
    BatchNorm,
    ConvLayer,
    Embedding,
    Flatten,
    InstanceNorm,
    LinBnDrop,
    NormType,
    PixelShuffle_ICNR,
    ResBlock,
    SelfAttention,
    SEModule,
    SigmoidRange,
    SimpleSelfAttention,
    emb_sz_rule,
    icnr_init,
)


def _round_trip(m, *inputs):
    """describe_module -> build_module -> load_state_dict gives the same keys, shapes and outputs."""
    m.eval()
    desc = describe_module(m)
    rebuilt = build_module(desc)
    assert type(rebuilt) is type(m)
    sd, sd2 = m.state_dict(), rebuilt.state_dict()
    assert list(sd) == list(sd2)
    assert all(sd[k].shape == sd2[k].shape for k in sd)
    rebuilt.load_state_dict(sd)
    rebuilt.eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(*inputs), m(*inputs))
    return rebuilt


# ---- emb_sz_rule, Embedding, SigmoidRange -------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_cat", "expected"),
    # 1.6 * n**0.56 by hand: 1.6, 2.36, 2.96, 5.81, 21.09, 76.58, 278.05, 1009.5 (capped at 600)
    [(1, 2), (2, 2), (3, 3), (10, 6), (100, 21), (1000, 77), (10_000, 278), (100_000, 600)],
)
def test_emb_sz_rule_table(n_cat, expected):
    assert emb_sz_rule(n_cat) == expected


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_emb_sz_rule_refuses_non_counts(bad):
    with pytest.raises(ValueError, match="n_cat"):
        emb_sz_rule(bad)


def test_embedding_truncated_normal_init():
    torch.manual_seed(0)
    emb = Embedding(2000, 50)
    w = emb.weight.detach()
    assert isinstance(emb, nn.Embedding) and w.shape == (2000, 50)
    assert w.abs().max() < 0.02  # folded into (-2, 2) standard deviations
    assert abs(w.mean()) < 5e-4
    # a standard normal folded by fmod 2 has std ~0.88 (computed independently in float64 below)
    ref = torch.randn(1_000_000, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).fmod(2).std()
    assert w.std() == pytest.approx(0.01 * float(ref), rel=0.03)
    _round_trip(emb, torch.tensor([[0, 5, 1999]]))


def test_sigmoid_range():
    m = SigmoidRange(-1.0, 3.0)
    x = torch.tensor([-100.0, 0.0, 100.0])
    torch.testing.assert_close(m(x), torch.tensor([-1.0, 1.0, 3.0]))
    _round_trip(m, torch.randn(4, 2))
    with pytest.raises(ValueError, match="greater than low"):
        SigmoidRange(2, 1)


# ---- LinBnDrop ---------------------------------------------------------------------------------------


def test_linbndrop_order_and_bias():
    m = LinBnDrop(4, 3, p=0.2, act=nn.ReLU(inplace=True))
    assert [type(c) for c in m] == [nn.BatchNorm1d, nn.Dropout, nn.Linear, nn.ReLU]
    assert m[0].num_features == 4 and m[2].bias is None
    assert torch.all(m[0].bias == 1e-3) and torch.all(m[0].weight == 1)
    m = LinBnDrop(4, 3, p=0.2, act=nn.ReLU(), lin_first=True)
    assert [type(c) for c in m] == [nn.Linear, nn.ReLU, nn.BatchNorm1d, nn.Dropout]
    assert m[2].num_features == 3
    m = LinBnDrop(4, 3, bn=False)
    assert [type(c) for c in m] == [nn.Linear] and m[0].bias is not None


def test_linbndrop_round_trip_keeps_activation_hyper_parameters():
    torch.manual_seed(0)
    m = LinBnDrop(5, 3, p=0.1, act=nn.LeakyReLU(0.3))
    m.train()
    m(torch.randn(16, 5))  # move the running statistics away from their init
    rebuilt = _round_trip(m, torch.randn(6, 5))
    assert rebuilt[3].negative_slope == 0.3


def test_linbndrop_unknown_activation_is_refused_by_export():
    class Custom(nn.Module):
        def forward(self, x):
            return x

    m = LinBnDrop(2, 2, act=Custom())
    with pytest.raises(ExportError, match="Custom"):
        describe_module(m)


# ---- pooling and flatten -------------------------------------------------------------------------------


def test_adaptive_concat_pool_max_then_avg():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    out = AdaptiveConcatPool2d()(x)
    assert out.shape == (2, 6, 1, 1)
    torch.testing.assert_close(out[:, :3, 0, 0], x.amax(dim=(2, 3)))
    torch.testing.assert_close(out[:, 3:, 0, 0], x.mean(dim=(2, 3)))
    assert AdaptiveConcatPool2d(2)(x).shape == (2, 6, 2, 2)
    _round_trip(AdaptiveConcatPool2d((2, 1)), x)


def test_flatten():
    x = torch.randn(2, 3, 4).transpose(1, 2)  # not contiguous
    assert Flatten()(x).shape == (2, 12)
    assert Flatten(full=True)(x).shape == (24,)
    torch.testing.assert_close(Flatten()(x), x.reshape(2, -1))
    _round_trip(Flatten(full=True), x)


# ---- norms and ConvLayer ---------------------------------------------------------------------------------


def test_norm_init():
    bn = BatchNorm(8, norm_type=NormType.BatchZero)
    assert isinstance(bn, nn.BatchNorm2d) and torch.all(bn.weight == 0) and torch.all(bn.bias == 1e-3)
    assert isinstance(BatchNorm(8, ndim=1), nn.BatchNorm1d) and torch.all(BatchNorm(8, ndim=3).weight == 1)
    inn = InstanceNorm(8, norm_type="InstanceZero")
    assert isinstance(inn, nn.InstanceNorm2d) and inn.affine and torch.all(inn.weight == 0)
    with pytest.raises(ValueError, match="ndim"):
        BatchNorm(8, ndim=4)
    with pytest.raises(ValueError, match="norm_type"):
        BatchNorm(8, norm_type="Group")


def test_conv_layer_structure_and_padding():
    m = ConvLayer(3, 16)
    assert [type(c) for c in m] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]  # bn_1st
    assert m[0].bias is None and m[0].padding == (1, 1)
    assert [type(c) for c in ConvLayer(3, 16, bn_1st=False)] == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d]
    m = ConvLayer(3, 16, ks=5, norm_type=None, act_cls=None)
    assert [type(c) for c in m] == [nn.Conv2d] and m[0].bias is not None and m[0].padding == (2, 2)
    assert type(ConvLayer(3, 4, ndim=1)[0]) is nn.Conv1d and type(ConvLayer(3, 4, ndim=3)[1]) is nn.BatchNorm3d
    t = ConvLayer(4, 2, ks=2, stride=2, transpose=True)
    assert type(t[0]) is nn.ConvTranspose2d and t(torch.randn(1, 4, 5, 5)).shape == (1, 2, 10, 10)
    assert ConvLayer(3, 8, stride=2)(torch.randn(2, 3, 9, 9)).shape == (2, 8, 5, 5)
    assert [type(c) for c in ConvLayer(3, 8, norm_type=NormType.Instance)][1] is nn.InstanceNorm2d
    with pytest.raises(TypeError, match="unexpected keyword"):
        ConvLayer(3, 8, xtra=nn.Identity())


def test_conv_layer_init_follows_fastai():
    torch.manual_seed(0)
    fan_in = 32 * 3 * 3
    m = ConvLayer(32, 256, norm_type=None)  # ReLU: kaiming_uniform_ with gain sqrt(2); bias ~ N(0, 0.01)
    w, bound = m[0].weight.detach(), math.sqrt(6 / fan_in)
    assert w.abs().max() <= bound and w.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    assert float(m[0].bias.detach().std()) == pytest.approx(0.01, rel=0.3)
    # no activation: torch's default init, bound 1/sqrt(fan_in)
    w = ConvLayer(32, 256, norm_type=None, act_cls=None)[0].weight.detach()
    assert w.abs().max() <= 1 / math.sqrt(fan_in) and w.std() == pytest.approx(1 / math.sqrt(3 * fan_in), rel=0.05)
    assert torch.all(ConvLayer(32, 8, norm_type="BatchZero")[1].weight == 0)


@pytest.mark.parametrize("norm_type", ["Weight", "Spectral"])
def test_conv_layer_weight_and_spectral_norm(norm_type):
    torch.manual_seed(0)
    m = ConvLayer(4, 6, norm_type=norm_type)
    conv = m[0]
    assert conv.bias is not None and hasattr(conv, "parametrizations")
    assert isinstance(m[0], nn.Conv2d) and type(m[1]) is nn.ReLU and len(m) == 2
    if norm_type == "Spectral":  # largest singular value of the (out, in*k*k) weight is ~1 after power iterations
        for _ in range(20):
            conv(torch.randn(1, 4, 3, 3))
        conv.eval()
        sigma = torch.linalg.matrix_norm(conv.weight.detach().reshape(6, -1), ord=2)
        assert float(sigma) == pytest.approx(1.0, rel=0.05)
    _round_trip(m, torch.randn(2, 4, 5, 5))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"ndim": 1, "norm_type": None, "act_cls": "LeakyReLU"},
        {"ndim": 3, "norm_type": "Instance", "ks": 1},
        {"transpose": True, "stride": 2, "ks": 2, "groups": 2},
        {"norm_type": "Spectral", "act_cls": None, "dilation": 2},
    ],
)
def test_conv_layer_round_trip(kwargs):
    torch.manual_seed(0)
    m = ConvLayer(4, 6, **kwargs)
    ndim = kwargs.get("ndim", 2)
    _round_trip(m, torch.randn(2, 4, *([6] * ndim)))


def test_conv_layer_custom_activation_refused_by_export():
    class Act(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ExportError, match="not plain data"):
        describe_module(ConvLayer(2, 2, act_cls=Act))
    with pytest.raises(ValueError, match="act_cls"):
        ConvLayer(2, 2, act_cls="NoSuchActivation")


# ---- attention -------------------------------------------------------------------------------------------


def test_self_attention_identity_at_init_then_not():
    torch.manual_seed(0)
    m = SelfAttention(16)
    x = torch.randn(2, 16, 4, 5)
    assert m.gamma.item() == 0
    torch.testing.assert_close(m(x), x)
    assert m.query[0].out_channels == 2 and m.value[0].out_channels == 16 and m.query[0].bias is None
    with torch.no_grad():
        m.gamma.fill_(0.5)
    assert not torch.allclose(m(x), x)
    _round_trip(m, x)
    with pytest.raises(ValueError, match="n_channels"):
        SelfAttention(4)


def test_self_attention_matches_formula():
    torch.manual_seed(0)
    m = SelfAttention(8).eval()
    with torch.no_grad():
        m.gamma.fill_(1.0)
    x = torch.randn(1, 8, 3, 3)
    flat = x.reshape(1, 8, 9)
    wq, wk, wv = (c[0].weight.detach()[..., 0] for c in (m.query, m.key, m.value))
    f, g, h = wq @ flat[0], wk @ flat[0], wv @ flat[0]
    beta = torch.softmax(f.T @ g, dim=0)  # (positions, positions), normalised over the key positions
    expected = (h @ beta + flat[0]).reshape(1, 8, 3, 3)
    torch.testing.assert_close(m(x), expected)


@pytest.mark.parametrize("sym", [False, True])
def test_simple_self_attention(sym):
    torch.manual_seed(0)
    m = SimpleSelfAttention(6, sym=sym)
    x = torch.randn(2, 6, 3, 3)
    torch.testing.assert_close(m(x), x)
    with torch.no_grad():
        m.gamma.fill_(0.1)
    m.eval()
    flat = x.reshape(2, 6, 9)
    c = m.conv.weight.detach()[..., 0]
    if sym:
        c = (c + c.T) / 2
    expected = 0.1 * (flat @ flat.transpose(1, 2)) @ (c @ flat) + flat
    torch.testing.assert_close(m(x), expected.reshape(2, 6, 3, 3))
    _round_trip(m, x)


# ---- PixelShuffle_ICNR -------------------------------------------------------------------------------------


def test_icnr_init_repeats_each_kernel_over_its_subpixels():
    w = icnr_init(torch.empty(12, 5, 3, 3), scale=2)
    for c in range(3):
        for r in range(4):
            torch.testing.assert_close(w[4 * c + r], w[4 * c])
    assert not torch.allclose(w[0], w[4])
    with pytest.raises(ValueError, match="multiple"):
        icnr_init(torch.empty(10, 5, 1, 1), scale=2)


@pytest.mark.parametrize("norm_type", ["Weight", None, "Spectral"])
def test_pixel_shuffle_icnr_constant_input_gives_constant_output(norm_type):
    torch.manual_seed(0)
    m = PixelShuffle_ICNR(8, 4, scale=2, norm_type=norm_type).eval()
    x = torch.ones(1, 8, 5, 5) * torch.randn(1, 8, 1, 1)  # constant over space
    out = m(x)
    assert out.shape == (1, 4, 10, 10)
    # every channel is constant over the upsampled picture: no checkerboard at init
    torch.testing.assert_close(out, out[:, :, :1, :1].expand_as(out))
    assert out.std() > 0  # channels differ


def test_pixel_shuffle_icnr_blur_and_round_trip():
    torch.manual_seed(0)
    m = PixelShuffle_ICNR(6, scale=2, blur=True)
    assert [type(c) for c in m][1:] == [nn.PixelShuffle, nn.ReplicationPad2d, nn.AvgPool2d]
    assert m(torch.randn(2, 6, 4, 4)).shape == (2, 6, 8, 8)
    x = torch.randn(2, 6, 4, 4)
    _round_trip(m, x)
    # weight norm keeps the effective weight equal to the ICNR direction
    conv = m[0][0]
    w = conv.weight.detach()
    torch.testing.assert_close(w, conv.parametrizations.weight.original1.detach())


# ---- ResBlock ---------------------------------------------------------------------------------------------


def test_resblock_basic_is_identity_plus_relu_at_init():
    torch.manual_seed(0)
    m = ResBlock(1, 8, 8).eval()
    assert len(m.idpath) == 0 and torch.all(m.convpath[1][1].weight == 0)  # BatchZero on the last conv
    x = torch.randn(2, 8, 6, 6)
    # zero gamma: the conv path gives only its BN bias (1e-3), so the block is relu(x + 1e-3)
    torch.testing.assert_close(m(x), torch.relu(x + 1e-3))


def test_resblock_bottleneck_shapes_and_shortcut():
    torch.manual_seed(0)
    m = ResBlock(4, 16, 8, stride=2)
    assert [c[0].kernel_size for c in m.convpath] == [(1, 1), (3, 3), (1, 1)]
    assert m.convpath[0][0].in_channels == 64 and m.convpath[2][0].out_channels == 32
    assert type(m.idpath[0]) is nn.AvgPool2d and m.idpath[0].ceil_mode and type(m.idpath[1]) is ConvLayer
    assert m(torch.randn(2, 64, 7, 7)).shape == (2, 32, 4, 4)
    m = ResBlock(1, 8, 16, stride=2, pool="max", pool_first=False)
    assert type(m.idpath[0]) is ConvLayer and type(m.idpath[1]) is nn.MaxPool2d
    with pytest.raises(ValueError, match="pool"):
        ResBlock(1, 8, 8, pool="median")
    with pytest.raises(ValueError, match="2-D"):
        ResBlock(1, 8, 8, reduction=2, ndim=1)


def test_resblock_options():
    torch.manual_seed(0)
    m = ResBlock(1, 16, 16, reduction=4, sa=True, dw=True, nh2=32)
    assert type(m.convpath[2]) is SEModule and type(m.convpath[3]) is SimpleSelfAttention
    assert m.convpath[0][0].groups == 16 and m.convpath[0][0].out_channels == 32
    assert m.convpath[2].layers[1][0].out_channels == 8  # ceil(16 // 4 / 8) * 8
    assert m(torch.randn(2, 16, 5, 5)).shape == (2, 16, 5, 5)
    m = ResBlock(1, 4, 8, ndim=1, norm_type="Instance", act_cls="SiLU", stride=2)
    assert type(m.act) is nn.SiLU and type(m.convpath[1][1]) is nn.InstanceNorm1d
    assert torch.all(m.convpath[1][1].weight == 0)  # InstanceZero
    assert m(torch.randn(2, 4, 9)).shape == (2, 8, 5)


@pytest.mark.parametrize(
    ("args", "kwargs", "shape"),
    [
        ((1, 8, 16), {"stride": 2}, (2, 8, 6, 6)),
        ((4, 4, 8), {"reduction": 8, "sa": True, "groups": 2}, (2, 16, 5, 5)),
        ((1, 4, 4), {"ndim": 3, "norm_type": "Spectral"}, (1, 4, 3, 3, 3)),
    ],
)
def test_resblock_round_trip(args, kwargs, shape):
    torch.manual_seed(0)
    m = ResBlock(*args, **kwargs)
    m.train()
    m(torch.randn(*shape))  # running statistics and spectral-norm vectors away from init
    _round_trip(m, torch.randn(*shape))


def test_se_module_scales_channels():
    torch.manual_seed(0)
    m = SEModule(16, reduction=2)
    x = torch.randn(2, 16, 3, 3)
    scale = m.layers(x)
    assert scale.shape == (2, 16, 1, 1) and torch.all((scale > 0) & (scale < 1))
    torch.testing.assert_close(m(x), x * scale)
    _round_trip(m, x)


# ---- through export / load_learner -------------------------------------------------------------------------


def test_model_of_layers_exports_and_loads(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        ConvLayer(3, 8, stride=2),
        ResBlock(1, 8, 8, sa=True),
        PixelShuffle_ICNR(8, 8, blur=True),
        SelfAttention(8),
        AdaptiveConcatPool2d(),
        Flatten(),
        LinBnDrop(16, 4, p=0.1, act=nn.ReLU(inplace=True)),
        LinBnDrop(4, 1, bn=False),
        SigmoidRange(0.0, 5.0),
    )
    x = torch.randn(16, 3, 8, 8)
    y = torch.rand(16, 1) * 5
    dl = DataLoader(TensorDataset(x, y), batch_size=8)
    learn = Learner((dl, dl), model, MSELossFlat(), path=tmp_path)
    with learn.no_bar():
        learn.fit(1, 1e-3)
    learn.export("m.pth")
    loaded = load_learner(tmp_path / "m.pth")
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x))


@pytest.mark.parametrize(
    ("act", "data"),
    [
        (nn.ReLU(), "ReLU"),
        (nn.ReLU(inplace=True), ["ReLU", {"inplace": True}]),
        (nn.LeakyReLU(0.2), ["LeakyReLU", {"negative_slope": 0.2}]),
        (nn.GELU(approximate="tanh"), ["GELU", {"approximate": "tanh"}]),
        (nn.Sigmoid, "Sigmoid"),
        ("SiLU", "SiLU"),
        (None, None),
    ],
)
def test_linbndrop_activation_as_data(act, data):
    m = LinBnDrop(3, 2, act=act)
    assert m.config["act"] == data
    rebuilt = build_module(describe_module(m))
    assert repr(rebuilt) == repr(m)  # same activation with the same hyper-parameters


@pytest.mark.parametrize(
    ("data", "message"), [(["Foo", {}], "expected one of"), (["ReLU", {"slope": 1}], "unknown hyper-parameters")]
)
def test_linbndrop_refuses_unknown_activation_data(data, message):
    with pytest.raises(ValueError, match=message):
        LinBnDrop(3, 2, act=data)
