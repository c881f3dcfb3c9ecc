import io

import numpy as np
import pytest
import torch
from PIL import Image

from apps_vision import (
    ImageToTensor,
    PILImage,
    PILImageBW,
    PILMask,
    get_image_files,
    image_extensions,
    verify_images,
)
from typedtensor import Canvas, TensorImage, TensorImageBW, TensorMask


def _rgb(h=6, w=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_create_from_path_bytes_array_tensor_gives_same_pixels(tmp_path):
    a = _rgb()
    p = tmp_path / "x.png"
    Image.fromarray(a).save(p)
    from_path = PILImage.create(p)
    from_str = PILImage.create(str(p))
    from_bytes = PILImage.create(p.read_bytes())
    from_array = PILImage.create(a)
    from_chw = PILImage.create(torch.from_numpy(a).permute(2, 0, 1))
    from_float = PILImage.create(torch.from_numpy(a).permute(2, 0, 1).float() / 255)
    for im in (from_path, from_str, from_bytes, from_array, from_chw, from_float):
        assert type(im) is PILImage and im.mode == "RGB" and im.size == (8, 6)
        assert np.array_equal(np.asarray(im), a)


def test_modes_and_tensor_types():
    a = _rgb()
    bw = PILImageBW.create(a)
    assert bw.mode == "L" and type(bw) is PILImageBW
    mask = PILMask.create(np.arange(48, dtype=np.int64).reshape(6, 8) % 3)
    assert mask.mode == "L" and np.asarray(mask).max() == 2
    tfm = ImageToTensor()
    img_t, bw_t, mask_t = tfm((PILImage.create(a), bw, mask))
    assert type(img_t) is TensorImage and img_t.shape == (3, 6, 8) and img_t.dtype == torch.uint8
    assert torch.equal(img_t.permute(1, 2, 0).as_subclass(torch.Tensor), torch.from_numpy(a))
    assert type(bw_t) is TensorImageBW and bw_t.shape == (1, 6, 8)
    assert type(mask_t) is TensorMask and mask_t.shape == (6, 8)  # a mask stays a mask, not a grey image
    assert tfm("not an image") == "not an image"  # other types pass through


def test_exif_orientation_is_honoured(tmp_path):
    a = np.zeros((2, 4, 3), dtype=np.uint8)  # stored 4 wide, 2 high
    a[0, 0] = (255, 0, 0)  # a red pixel at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: the picture must be turned 90 degrees clockwise to be upright
    p = tmp_path / "phone.png"
    Image.fromarray(a).save(p, exif=exif)
    im = PILImage.create(p)
    assert im.size == (2, 4)  # displayed 2 wide, 4 high
    # turning clockwise moves the stored top-left (x=0, y=0) to the displayed top-right (x=h-1=1, y=0)
    assert np.asarray(im)[0, 1].tolist() == [255, 0, 0]
    assert np.asarray(im).sum() == 255


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        PILImage.create(torch.full((3, 4, 4), 2.0))
    with pytest.raises(TypeError, match="expected a path"):
        PILImage.create(3.5)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(OSError, match=r"bad\.png"):
        PILImage.create(bad)


def test_show_draws_on_a_canvas():
    im = PILImage.create(_rgb())
    ctx = im.show()
    assert isinstance(ctx, Canvas) and ctx.size == (6, 8)
    assert np.array_equal(ctx.to_array(), _rgb())
    mask = PILMask.create(np.ones((6, 8), dtype=np.uint8))
    over = mask.show(ctx=PILImage.create(np.zeros((6, 8, 3), np.uint8)).show())
    assert over.to_array().sum() > 0  # code 1 is drawn over the black picture


def test_image_files(tmp_path):
    assert isinstance(image_extensions, frozenset) and {".png", ".jpg", ".jpeg"} <= image_extensions
    (tmp_path / "a").mkdir()
    Image.fromarray(_rgb()).save(tmp_path / "a" / "1.png")
    Image.fromarray(_rgb()).save(tmp_path / "2.JPG")
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "a" / "broken.png").write_bytes(b"\x89PNG broken")
    files = get_image_files(tmp_path)
    assert [f.name for f in files] == ["2.JPG", "1.png", "broken.png"]
    assert verify_images(files) == [tmp_path / "a" / "broken.png"]
    # as fastai's get_files: `folders` filters the top-level folders, files at the top stay
    assert [f.name for f in get_image_files(tmp_path, folders=["b"])] == ["2.JPG"]


def test_pil_types_pickle_and_from_bytes_io():
    import pickle

    m = PILMask.create(np.eye(4, dtype=np.uint8))
    back = pickle.loads(pickle.dumps(m))
    assert type(back) is PILMask and np.array_equal(np.asarray(back), np.eye(4))
    buf = io.BytesIO()
    Image.fromarray(_rgb()).save(buf, format="PNG")
    assert np.array_equal(np.asarray(PILImage.create(buf.getvalue())), _rgb())


def test_datablock_to_tensor_knows_the_image_types():
    # apps_vision extends datablock's dispatched conversion (no local copy): ToTensor and to_tensor type each class
    from datablock import ToTensor, to_tensor

    mask = PILMask.create(np.arange(48, dtype=np.int64).reshape(6, 8) % 3)
    assert type(to_tensor(mask)) is TensorMask and to_tensor(mask).shape == (6, 8)
    assert type(ToTensor()(PILImageBW.create(_rgb()))) is TensorImageBW
    assert isinstance(ImageToTensor(), ToTensor)  # the old name, kept for exported files, is the same step
