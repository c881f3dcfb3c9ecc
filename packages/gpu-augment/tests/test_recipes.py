import pytest
import torch

from dispatch_transforms import Pipeline
from gpu_augment import (
    AffineCoordTfm,
    Brightness,
    Contrast,
    Dihedral,
    Flip,
    LightingTfm,
    RandomErasing,
    RandomResizedCropGPU,
    Resize,
    Rotate,
    Warp,
    Zoom,
    aug_transforms,
    setup_aug_tfms,
)
from typedtensor import TensorBBox, TensorImage, TensorMask, TensorPoint


def sample(n=4, h=16, w=20):
    img = TensorImage(torch.rand(n, 3, h, w))
    msk = TensorMask(torch.randint(0, 3, (n, h, w)))
    pts = TensorPoint(torch.rand(n, 2, 2) * torch.tensor([w, h]), canvas_size=(h, w))
    box = TensorBBox(torch.tensor([[2.0, 2, 8, 9]]).expand(n, 1, 4).clone(), canvas_size=(h, w))
    return img, msk, pts, box


def test_aug_transforms_has_fastais_defaults():
    affine, light = aug_transforms()
    assert isinstance(affine, AffineCoordTfm) and isinstance(light, LightingTfm)
    kinds = [type(t) for t in affine.tfms]
    assert kinds == [Flip, Warp, Rotate, Zoom]
    flip, warp, rotate, zoom = affine.tfms
    assert flip.p == 0.5 and not flip.vertical
    assert (warp.magnitude, warp.p) == (0.2, 0.75)
    assert (rotate.max_deg, rotate.p) == (10.0, 0.75)
    assert (zoom.min_zoom, zoom.max_zoom, zoom.p) == (1.0, 1.1, 0.75)
    assert affine.pad_mode == "reflection" and affine.mode == "bilinear" and affine.split_idx == 0
    assert [type(t) for t in light.tfms] == [Brightness, Contrast]
    assert all(t.max_lighting == 0.2 and t.p == 0.75 for t in light.tfms) and light.space == "logit"
    assert light.split_idx == 0


def test_aug_transforms_options():
    affine, light, valid = aug_transforms(mult=2, flip_vert=True, max_warp=0, size=12, min_scale=0.5, pad_mode="zeros")
    assert [type(t) for t in affine.tfms] == [Dihedral, Rotate, Zoom, RandomResizedCropGPU]
    assert valid.split_idx == 1 and [type(t) for t in valid.tfms] == [Resize] and valid.tfms[0].method == "crop"
    assert affine.tfms[1].max_deg == 20 and light.tfms[0].max_lighting == pytest.approx(0.4)
    out = Pipeline([affine, light])(sample())
    assert out[0].shape[-2:] == (12, 12) and out[2].canvas_size == (12, 12)
    assert aug_transforms(max_lighting=0, max_rotate=0, max_warp=0, max_zoom=1, do_flip=False) == []
    with pytest.raises(ValueError, match="size"):
        aug_transforms(min_scale=0.5)


def test_setup_aug_tfms_fuses_by_kind_and_split():
    erase = RandomErasing()
    fused = setup_aug_tfms([Flip(), Brightness(), Resize(8), Rotate(), erase, Contrast()])
    affine, light, resize, kept = fused
    assert [type(t) for t in affine.tfms] == [Flip, Rotate] and affine.split_idx == 0
    assert [type(t) for t in light.tfms] == [Brightness, Contrast]
    assert resize.split_idx is None and [type(t) for t in resize.tfms] == [Resize]
    assert kept is erase
    # a composite with its own probability stays one part
    inner = AffineCoordTfm([Rotate(p=1.0), Zoom(p=1.0)], p=0.5)
    assert setup_aug_tfms([Flip(), inner])[0].tfms[1] is inner


def test_resize_applies_to_validation_and_random_ones_do_not():
    pipe = Pipeline([*aug_transforms(), Resize(8)], split_idx=1)
    img = sample()[0]
    out = pipe(img)
    assert out.shape[-2:] == (8, 8)
    assert torch.allclose(
        out,
        torch.nn.functional.interpolate(img.as_subclass(torch.Tensor), (8, 8), mode="bilinear", antialias=False),
        atol=1e-5,
    )


def test_seeded_runs_repeat_and_replay_applies_the_same_draw():
    tfm = aug_transforms()[0]
    s = sample()
    torch.manual_seed(0)
    a = tfm(s)
    torch.manual_seed(0)
    b = tfm(s)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    c = tfm(s[0], params=tfm.last_params)
    assert torch.equal(c, b[0])
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(Rotate(p=1.0, generator=g1)(s[0]), Rotate(p=1.0, generator=g2)(s[0]))


def test_batch_true_draws_once_for_the_whole_batch():
    tfm = AffineCoordTfm([Rotate(30, p=0.5, batch=True), Zoom(1, 2, p=1.0, batch=True)], batch=True)
    tfm(sample(n=6))
    m = tfm.last_params.matrix
    assert torch.equal(m, m[:1].expand_as(m))


def test_per_item_probability():
    tfm = Rotate(30, p=0.3, generator=torch.Generator().manual_seed(0))
    tfm(TensorImage(torch.rand(400, 1, 4, 4)))
    moved = ~(tfm.last_params.matrix == torch.eye(3)).flatten(1).all(1)
    assert 0.22 < moved.float().mean() < 0.38


def test_bad_input_errors_name_what_is_wrong():
    img = sample()[0]
    with pytest.raises(Exception, match="uint8") as e:
        Rotate(p=1.0)(TensorImage(torch.zeros(2, 3, 4, 4, dtype=torch.uint8)))
    assert "float" in str(e.value.__cause__ or e.value)
    other = TensorPoint(torch.rand(4, 2, 2), canvas_size=(30, 30))
    with pytest.raises(Exception, match=r"canvas sizes .*TensorImage \(16, 20\).*TensorPoint \(30, 30\)"):
        Rotate()((img, other))
    with pytest.raises(Exception, match="different numbers of items"):
        Rotate()((img, TensorMask(torch.zeros(3, 16, 20, dtype=torch.long))))
    with pytest.raises(ValueError, match="pad_mode"):
        Rotate(pad_mode="wrap")
    with pytest.raises(ValueError, match="min_zoom"):
        Zoom(2.0, 1.0)
    with pytest.raises(TypeError, match=r"CPU torch\.Generator"):
        Rotate(generator=42)
    with pytest.raises(Exception, match="nothing to augment"):
        Rotate()(torch.rand(2, 3, 4, 4))


def test_empty_box_lists_pass_through():
    img = sample()[0]
    none = TensorBBox(torch.zeros(4, 0, 4), canvas_size=(16, 20))
    out = aug_transforms(size=10, min_scale=0.5)[0]((img, none))[1]
    assert out.shape == (4, 0, 4) and out.canvas_size == (10, 10)


def test_aug_transforms_size_resizes_validation_batches_too():
    # `size` used to reach the training-only affine transform alone: validation batches kept their input size
    img, msk, pts, box = sample(n=3, h=16, w=20)
    plain = img.as_subclass(torch.Tensor)
    cases = [
        ({"size": 12}, torch.nn.functional.interpolate(plain, (12, 12), mode="bilinear")),
        # the random crop's validation counterpart: the centred square (columns 2..17), resized
        ({"size": 8, "min_scale": 0.5}, torch.nn.functional.interpolate(plain[..., 2:18], (8, 8), mode="bilinear")),
        # nothing geometric left for training: the resize runs on both splits
        ({"size": 12, "do_flip": False, "max_rotate": 0, "max_warp": 0, "max_zoom": 1}, None),
    ]
    for kw, expected in cases:
        tfms = aug_transforms(**kw)
        train = Pipeline(tfms, split_idx=0)((img, msk, pts, box))
        valid = Pipeline(tfms, split_idx=1)((img, msk, pts, box))
        size = (kw["size"], kw["size"])
        for t, v in zip(train, valid, strict=True):
            assert t.shape == v.shape, kw
        assert valid[0].shape[-2:] == size and valid[1].shape[-2:] == size
        assert valid[2].canvas_size == size and valid[3].canvas_size == size
        if expected is not None:
            torch.testing.assert_close(valid[0].as_subclass(torch.Tensor), expected, atol=1e-5, rtol=0)
    assert len(aug_transforms()) == 2  # no size: no resize added
