import random

import numpy as np
import pytest

from apps_vision import (
    CropPad,
    DihedralItem,
    FlipItem,
    PadMode,
    PILImage,
    PILMask,
    RandomCrop,
    RandomResizedCrop,
    RatioResize,
    Resize,
    ResizeMethod,
)


def _pair(h=40, w=50, block=10):
    """An image whose red channel is 60 x the mask code, in blocks of `block` pixels: alignment is checkable."""
    yy, xx = np.mgrid[0:h, 0:w]
    codes = ((yy // block) * 3 + (xx // block)) % 4 + 1  # codes 1..4, never 0 (padding)
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = codes * 60
    img[..., 1] = 7
    return PILImage.create(img), PILMask.create(codes.astype(np.uint8))


def _check_aligned(img, mask):
    """Where the image is unblended (a pure block colour), the mask holds that block's code, at every such pixel."""
    r, m = np.asarray(img)[..., 0].astype(int), np.asarray(mask).astype(int)
    pure = (r % 60 == 0) & (r > 0)
    assert pure.mean() > 0.4  # bilinear blends only near block edges
    assert np.array_equal(m[pure], r[pure] // 60)


def test_resize_crop_sizes_and_windows_are_fastai_formulas():
    img, _ = _pair(40, 50)
    rz = Resize(32)
    # crop: scale by the smaller ratio h/32=1.25 -> a 40x40 window; centred on validation: left (50-40)/2 = 5
    assert rz.window((50, 40), (0.5, 0.5)) == ((40, 40), (5, 0))
    out = rz(img, split_idx=1)
    assert type(out) is PILImage and out.size == (32, 32)
    # the window of a validation crop equals the centre 40x40 crop resized
    ref = img.crop((5, 0, 45, 40)).resize((32, 32), 2)
    assert np.array_equal(np.asarray(out), np.asarray(ref))
    # pad: scale by the larger ratio w/32 -> a 50x50 window, 5 rows of padding above and below
    assert Resize(32, method=ResizeMethod.Pad).window((50, 40), (0.5, 0.5)) == ((50, 50), (0, -5))
    # squish: the whole image
    assert Resize((20, 30), method="squish").window((50, 40), (0.5, 0.5)) == ((50, 40), (0, 0))
    assert Resize((20, 30), method="squish")(img).size == (30, 20)  # size is (height, width)
    # rectangular target, crop: 40/20=2 vs 50/30=1.67 -> m=1.67, window (50, 33)
    assert Resize((20, 30)).window((50, 40), (0.5, 0.5)) == ((50, 33), (0, 3))


def test_resize_random_on_training_centred_on_validation():
    img, _ = _pair(40, 80)
    rz = Resize(20)
    random.seed(0)
    lefts = set()
    for _ in range(10):
        rz(img, split_idx=0)
        lefts.add(rz.window((80, 40), rz.last_params)[1][0])
    assert len(lefts) > 3 and all(0 <= v <= 40 for v in lefts)
    rz(img, split_idx=1)
    assert rz.last_params == (0.5, 0.5)


@pytest.mark.parametrize("method", ["crop", "pad", "squish"])
@pytest.mark.parametrize("pad_mode", [PadMode.Zeros, PadMode.Reflection, PadMode.Border])
def test_resize_keeps_image_and_mask_aligned(method, pad_mode):
    img, mask = _pair(40, 50)
    random.seed(1)
    out_img, out_mask = Resize(24, method=method, pad_mode=pad_mode)((img, mask), split_idx=0)
    assert type(out_img) is PILImage and type(out_mask) is PILMask
    assert out_img.size == out_mask.size == (24, 24)
    m = np.asarray(out_mask)
    assert set(np.unique(m)) <= {0, 1, 2, 3, 4}  # nearest: only codes that exist (0 from zero padding)
    _check_aligned(out_img, out_mask)


@pytest.mark.parametrize(
    "tfm",
    [FlipItem(p=1.0), DihedralItem(), CropPad(30), CropPad((60, 70)), RandomCrop(30), RandomCrop((45, 60))],
    ids=["flip", "dihedral", "croppad-crop", "croppad-pad", "randomcrop", "randomcrop-pad"],
)
def test_unresampled_transforms_keep_every_pixel_aligned(tfm):
    img, mask = _pair(40, 50)
    random.seed(2)
    for _ in range(4):
        out_img, out_mask = tfm((img, mask), split_idx=0)
        assert type(out_mask) is PILMask and out_img.size == out_mask.size
        r, m = np.asarray(out_img)[..., 0].astype(int), np.asarray(out_mask).astype(int)
        assert np.array_equal(r, m * 60)  # exact: no resampling, padding is zero in both


def test_flip_and_dihedral_values():
    img, mask = _pair(40, 50)
    flipped = FlipItem(p=1.0)(img, split_idx=0)
    assert np.array_equal(np.asarray(flipped), np.asarray(img)[:, ::-1])
    assert FlipItem(p=1.0)(img, split_idx=1) is img  # training only
    d = DihedralItem()
    seen = set()
    random.seed(0)
    for _ in range(40):
        out = d(mask, split_idx=0)
        seen.add(d.last_params)
        a, o = np.asarray(mask), np.asarray(out)
        assert any(np.array_equal(o, np.rot90(b, k)) for b in (a, a.T) for k in range(4))
    assert seen == set(range(8))


def test_crop_pad_and_random_crop_sizes():
    img, _ = _pair(40, 50)
    assert CropPad(30)(img).size == (30, 30)
    padded = CropPad((60, 70))(img)  # (height, width)
    assert padded.size == (70, 60) and np.asarray(padded)[:10].sum() == 0  # zeros above
    assert np.array_equal(np.asarray(CropPad(30)(img)), np.asarray(img)[5:35, 10:40])
    rc = RandomCrop(30)
    rc(img, split_idx=1)
    assert rc.last_params == (10, 5)  # centre on validation: ((50-30)//2, (40-30)//2)


def test_random_resized_crop_and_ratio_resize():
    img, mask = _pair(40, 50)
    random.seed(3)
    rrc = RandomResizedCrop(16, min_scale=0.35)
    for _ in range(5):
        a, m = rrc((img, mask), split_idx=0)
        assert a.size == m.size == (16, 16)
        assert set(np.unique(np.asarray(m))) <= {1, 2, 3, 4}
        cw, ch = rrc.last_params["cp"]
        assert 0.35 * 2000 * 0.9 <= cw * ch <= 2000 and cw <= 50 and ch <= 40
    v = rrc(img, split_idx=1)
    assert v.size == (16, 16) and rrc.last_params["final"] == (24, 24)  # 16 + ceil(16*0.14/8)*8
    assert RatioResize(20)(img).size == (20, 16)
    assert RatioResize(20)(PILImage.create(np.zeros((50, 25, 3), np.uint8))).size == (10, 20)


def test_bad_arguments_and_mismatched_sample_sizes():
    with pytest.raises(ValueError, match="method"):
        Resize(10, method="stretch")
    with pytest.raises(ValueError, match="size"):
        Resize(0)
    img, _ = _pair(40, 50)
    _, small_mask = _pair(20, 20)
    with pytest.raises(RuntimeError, match="different sizes"):  # TransformError, naming the transform
        Resize(10)((img, small_mask))
