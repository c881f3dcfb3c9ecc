import pytest
import torch

from gpu_augment import Brightness, Contrast, Hue, LightingTfm, Saturation, lighting_image
from gpu_augment.color import hue_matrix, saturation_matrix
from gpu_augment.testing import check_kernel
from typedtensor import TensorBBox, TensorImage, TensorMask, TensorPoint


def batch(n=5, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorImage(torch.rand(n, c, 8, 9, generator=g) * 0.9 + 0.05)


def test_logit_brightness_and_contrast_match_the_formula():
    x = batch()
    tfm = LightingTfm([Brightness(0.4, p=1.0), Contrast(0.4, p=1.0)], generator=torch.Generator().manual_seed(1))
    out = tfm(x).as_subclass(torch.Tensor)
    p = tfm.last_params
    scale, shift = p.matrix[:, 0, 0], p.bias[:, 0]
    plain = x.as_subclass(torch.Tensor)
    ref = torch.sigmoid(torch.logit(plain) * scale[:, None, None, None] + shift[:, None, None, None])
    assert torch.allclose(out, ref, atol=1e-5)
    # brightness first (a shift), then contrast (a scale): the shift is scaled too
    assert not torch.allclose(scale, torch.ones(5))


def test_linear_brightness_contrast_match_torchvision_definitions():
    x = batch()
    g = torch.Generator().manual_seed(3)
    tfm = LightingTfm([Brightness(0.3, p=1.0), Contrast(0.3, p=1.0)], space="linear", generator=g)
    out = tfm(x).as_subclass(torch.Tensor)
    # replay the draws by hand: brightness factor b, then contrast c blending with the grey mean
    g = torch.Generator().manual_seed(3)
    b = Brightness(0.3).steps(5, g, "linear")[0][1]
    torch.rand(5, generator=g, dtype=torch.float64)  # Brightness's p draw
    c = Contrast(0.3).steps(5, g, "linear")[0][1]
    plain = x.as_subclass(torch.Tensor)
    y = plain * b[:, None, None, None]
    grey = (y * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1).mean((1, 2))
    ref = (c[:, None, None, None] * y + (1 - c[:, None, None, None]) * grey[:, None, None, None]).clamp(0, 1)
    assert torch.allclose(out, ref, atol=1e-5)


def test_hue_third_turn_permutes_channels_and_keeps_grey():
    m = hue_matrix(torch.tensor([1 / 3, 0.25]))
    rgb = torch.tensor([0.9, 0.2, 0.1])
    turned = m[0] @ rgb
    assert torch.allclose(turned, torch.tensor([0.1, 0.9, 0.2]), atol=1e-5)  # R -> G -> B -> R
    grey = torch.full((3,), 0.4)
    assert torch.allclose(m[1] @ grey, grey, atol=1e-6)


def test_saturation_zero_gives_grey_and_one_is_identity():
    m = saturation_matrix(torch.tensor([0.0, 1.0]))
    rgb = torch.tensor([0.9, 0.2, 0.1])
    grey = 0.299 * 0.9 + 0.587 * 0.2 + 0.114 * 0.1
    assert torch.allclose(m[0] @ rgb, torch.full((3,), grey), atol=1e-6)
    assert torch.allclose(m[1], torch.eye(3))


def test_items_not_drawn_are_unchanged_and_masks_pass_through():
    x = batch(n=40)
    tfm = LightingTfm([Brightness(p=0.5), Contrast(p=0.5)], generator=torch.Generator().manual_seed(0))
    m = TensorMask(torch.ones(40, 8, 9, dtype=torch.long))
    out, out_m = tfm((x, m))
    same = tfm.last_params.identity_items()
    assert 0 < int(same.sum()) < 40
    assert torch.equal(out[same], x[same])
    assert not torch.allclose(out[~same], x[~same])
    assert out_m is m


@pytest.mark.parametrize("space", ["logit", "linear"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_identity_items_are_copied_and_the_others_follow_the_composed_map(space, channels_last):
    # identity items are skipped (copied) run by run; every other item gets y = A v + b + G mean(v)
    plain = batch(n=12).as_subclass(torch.Tensor)
    if channels_last:
        plain = plain.to(memory_format=torch.channels_last)
    x = TensorImage(plain)
    tfm = LightingTfm(
        [Brightness(0.3, p=0.3), Contrast(0.3, p=0.3), Saturation(0.3, p=0.3)],
        space=space,
        generator=torch.Generator().manual_seed(4),
    )
    out = tfm(x).as_subclass(torch.Tensor)
    p = tfm.last_params
    same = p.identity_items()
    assert 0 < int(same.sum()) < 12
    assert torch.equal(out[same], plain[same]) and out.is_contiguous()
    v = torch.logit(plain, 1e-4) if space == "logit" else plain
    mean = v.mean((2, 3))
    bias = p.bias + (p.mean_weight @ mean[..., None])[..., 0]
    y = torch.einsum("nij,njhw->nihw", p.matrix, v) + bias[..., None, None]
    ref = torch.sigmoid(y) if space == "logit" else y.clamp(0, 1)
    assert torch.allclose(out[~same], ref[~same], atol=1e-5)


def test_all_steps_compose_into_one_pass_equal_to_sequential():
    x = batch()
    steps = [Brightness(0.3, p=1.0), Contrast(0.3, p=1.0), Saturation(0.3, p=1.0), Hue(0.1, p=1.0)]
    fused = LightingTfm(steps, generator=torch.Generator().manual_seed(5))
    out = fused(x).as_subclass(torch.Tensor)
    g = torch.Generator().manual_seed(5)
    v = torch.logit(x.as_subclass(torch.Tensor), 1e-4)
    for s in steps:
        kind, val = s.steps(5, g, "logit")[0]
        torch.rand(5, generator=g, dtype=torch.float64)  # the step's p draw
        if kind == "shift":
            v = v + val[:, None, None, None].float()
        elif kind == "scale":
            v = v * val[:, None, None, None].float()
        else:
            v = torch.einsum("nij,njhw->nihw", val.float(), v)
    assert torch.allclose(out, torch.sigmoid(v), atol=1e-5)


@pytest.mark.parametrize("tfm", [Brightness(p=0.6), Contrast(p=0.6), Saturation(p=0.6), Hue(p=0.6)])
def test_lighting_contract(tfm):
    check_kernel(tfm, batch(n=6))


def test_lighting_errors_are_clear():
    with pytest.raises(TypeError, match="uint8"):
        lighting_image(
            torch.zeros(2, 3, 4, 4, dtype=torch.uint8), LightingTfm([Brightness()]).draw(batch(2), torch.Generator())
        )
    with pytest.raises(Exception, match="3 colour channels"):
        Saturation()(batch(c=1))
    with pytest.raises(ValueError, match="space"):
        LightingTfm(space="hsv")
    with pytest.raises(ValueError, match="max_lighting"):
        Brightness(1.5)


@pytest.mark.parametrize(
    "tfm", [Saturation(p=1.0), Hue(p=1.0), LightingTfm([Brightness(p=1.0), Hue(p=1.0)]), Contrast(p=1.0)]
)
def test_non_image_inputs_alone_pass_through(tfm):
    # lighting used to draw for them and refuse: "saturation and hue need 3 colour channels"
    n, h, w = 3, 8, 9
    msk = TensorMask(torch.zeros(n, h, w, dtype=torch.long))
    pts = TensorPoint(torch.rand(n, 2, 2) * 8, canvas_size=(h, w))
    box = TensorBBox(torch.tensor([[1.0, 1, 5, 6]]).expand(n, 1, 4).clone(), canvas_size=(h, w))
    assert tfm(msk) is msk and tfm(pts) is pts and tfm(box) is box
    out = tfm((msk, pts, box))
    assert all(a is b for a, b in zip(out, (msk, pts, box), strict=True))
    img = batch(n=n)
    out_img, out_msk = tfm((img, msk))  # with an image, the image still changes and the mask passes through
    assert out_msk is msk and not torch.equal(out_img, img)


def _logit_reference(x, params):
    """float64 `sigmoid(scale * logit(clamp(x, 1e-4, 1 - 1e-4)) + shift)` per item; identity items exactly x."""
    scale = params.matrix[:, 0, 0].double()[:, None, None, None]
    shift = params.bias[:, 0].double()[:, None, None, None]
    t = x.double().clamp(1e-4, 1 - 1e-4)
    ref = torch.sigmoid(torch.log(t / (1 - t)) * scale + shift)
    same = params.identity_items()
    ref[same] = x[same].double()
    return ref


def _edge_batch(n, c=3, h=8, w=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, h, w, generator=g)
    x[:, 0, 0, :6] = torch.tensor([0.0, 1.0, 1e-5, 1 - 1e-5, 1e-4, 0.5])  # clamped ends and the eps edge
    return x


@pytest.mark.parametrize("itemwise", [True, False])
def test_logit_fast_paths_equal_the_reference(monkeypatch, itemwise):
    # every kind of item in one batch: identity (copied), brightness alone (the division form, no logarithm),
    # contrast alone, both; item by item (one CPU thread, large batch) and with whole-batch operations
    import gpu_augment.color as color

    x = _edge_batch(48)
    tfm = LightingTfm([Brightness(0.4, p=0.5), Contrast(0.4, p=0.5)], generator=torch.Generator().manual_seed(2))
    params = tfm.draw(TensorImage(x), tfm.generator)
    scale, shift = params.matrix[:, 0, 0], params.bias[:, 0]
    kinds = {
        "identity": params.identity_items(),
        "brightness": (scale == 1) & (shift != 0),
        "contrast": (scale != 1) & (shift == 0),
        "both": (scale != 1) & (shift != 0),
    }
    assert all(int(k.sum()) > 0 for k in kinds.values()), {k: int(v.sum()) for k, v in kinds.items()}
    monkeypatch.setattr(color, "_ITEMWISE_MIN_BYTES", 0 if itemwise else 1 << 62)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert color._itemwise(x) is itemwise
        out = lighting_image(x, params)
    finally:
        torch.set_num_threads(threads)
    ref = _logit_reference(x, params)
    assert out.is_contiguous() and out.dtype == x.dtype
    assert torch.equal(out[kinds["identity"]], x[kinds["identity"]])
    for kind, items in kinds.items():
        assert torch.allclose(out[items].double(), ref[items], rtol=0, atol=1e-6), kind


def test_itemwise_lighting_on_a_large_batch_takes_strided_input():
    # the real threshold (a batch of 4 MiB and up on one thread), from a channels-last and a sliced input
    import gpu_augment.color as color

    x = _edge_batch(7, h=240, w=240, seed=1)  # 4.8 MB
    params = LightingTfm([Brightness(p=0.6), Contrast(p=0.6)]).draw(TensorImage(x), torch.Generator().manual_seed(7))
    ref = _logit_reference(x, params)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert color._itemwise(x)
        for variant in (x.contiguous(memory_format=torch.channels_last), torch.cat([x, x], 3)[..., :240]):
            out = lighting_image(variant, params)
            assert out.is_contiguous() and torch.allclose(out.double(), ref, rtol=0, atol=1e-6)
    finally:
        torch.set_num_threads(threads)
