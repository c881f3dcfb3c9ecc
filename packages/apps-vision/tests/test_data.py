import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from apps_vision import ImageDataLoaders, Resize, SegmentationDataLoaders, get_image_files
from typedtensor import TensorCategory, TensorImage, TensorMask, TensorMultiCategory


def _check_images(xb, bs, size=8):
    assert type(xb) is TensorImage and xb.shape == (bs, 3, size, size) and xb.dtype == torch.float32
    assert 0 <= float(xb.min()) and float(xb.max()) <= 1


def test_from_folder_train_valid(folder_data):
    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(8), bs=4, val_bs=3)
    assert isinstance(dls, ImageDataLoaders) and dls.path == folder_data
    assert list(dls.vocab) == ["cat", "dog"] and dls.c == 2
    assert len(dls.train_ds) == 12 and len(dls.valid_ds) == 4
    assert dls.valid.bs == 3 and dls.train.bs == 4
    xb, yb = dls.valid.one_batch()
    _check_images(xb, 3)
    assert type(yb) is TensorCategory
    # labels come from the folder: dark images are cats
    assert all((float(x.mean()) < 0.5) == (int(y) == 0) for x, y in zip(xb, yb, strict=True))


def test_from_folder_valid_pct_is_seeded(folder_data):
    a = ImageDataLoaders.from_folder(folder_data, valid_pct=0.25, seed=3, item_tfms=Resize(8), bs=4)
    b = ImageDataLoaders.from_folder(folder_data, valid_pct=0.25, seed=3, item_tfms=Resize(8), bs=4)
    assert len(a.valid_ds) == 4 and len(a.train_ds) == 12
    assert a.valid_ds.items == b.valid_ds.items


def test_from_name_func_re_and_path_re(folder_data):
    fnames = get_image_files(folder_data)
    dls = ImageDataLoaders.from_name_func(folder_data, fnames, str.isupper, item_tfms=Resize(8), bs=4, seed=0)
    assert list(dls.vocab) == [False]
    dls = ImageDataLoaders.from_name_re(folder_data, fnames, r"^([a-z]+)_", item_tfms=Resize(8), bs=4, seed=0)
    assert list(dls.vocab) == ["cat", "dog"] and len(dls.valid_ds) == 3  # valid_pct 0.2 of 16
    dls = ImageDataLoaders.from_path_re(folder_data, fnames, r"/(train|valid)/", item_tfms=Resize(8), bs=4)
    assert list(dls.vocab) == ["train", "valid"]
    _check_images(dls.one_batch()[0], 4)


def test_from_df_csv_and_multi_label(folder_data):
    fnames = get_image_files(folder_data)
    rel = [f.relative_to(folder_data).as_posix() for f in fnames]
    labels = [f.parent.name for f in fnames]
    df = pd.DataFrame({"fname": rel, "label": labels, "is_valid": [f.parts[-3] == "valid" for f in fnames]})
    dls = ImageDataLoaders.from_df(df, folder_data, valid_col="is_valid", item_tfms=Resize(8), bs=4)
    assert len(dls.valid_ds) == 4 and list(dls.vocab) == ["cat", "dog"]
    df.to_csv(folder_data / "labels.csv", index=False)
    dls = ImageDataLoaders.from_csv(folder_data, item_tfms=Resize(8), bs=4, seed=0)
    _check_images(dls.one_batch()[0], 4)
    df["tags"] = [f"{lab} {'odd' if i % 2 else 'even'}" for i, lab in enumerate(labels)]
    dls = ImageDataLoaders.from_df(df, folder_data, label_col="tags", label_delim=" ", item_tfms=Resize(8), bs=4)
    _xb, yb = dls.one_batch()
    assert type(yb) is TensorMultiCategory and yb.shape == (4, 4) and list(dls.vocab) == ["cat", "dog", "even", "odd"]
    assert torch.equal(yb.sum(1), torch.full((4,), 2.0))


def test_from_lists_category_and_regression(folder_data):
    fnames = get_image_files(folder_data)
    dls = ImageDataLoaders.from_lists(folder_data, fnames, [f.parent.name for f in fnames], item_tfms=Resize(8), bs=4)
    assert list(dls.vocab) == ["cat", "dog"]
    dls = ImageDataLoaders.from_lists(folder_data, fnames, [float(i) for i in range(16)], item_tfms=Resize(8), bs=4)
    _xb, yb = dls.one_batch()
    assert yb.dtype == torch.float32 and yb.shape == (4,)
    with pytest.raises(ValueError, match="16 fnames but 2 labels"):
        ImageDataLoaders.from_lists(folder_data, fnames, ["a", "b"])


def test_segmentation_from_label_func(tmp_path):
    rng = np.random.default_rng(0)
    fnames = []
    for i in range(10):
        img = rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)
        mask = np.zeros((20, 24), np.uint8)
        mask[2 : 8 + i, 3:15] = 1 + i % 2
        Image.fromarray(img).save(tmp_path / f"img{i}.png")
        Image.fromarray(mask).save(tmp_path / f"img{i}_mask.png")
        fnames.append(tmp_path / f"img{i}.png")

    dls = SegmentationDataLoaders.from_label_func(
        tmp_path, fnames, label_func_mask, codes=["bg", "a", "b"], item_tfms=Resize(16), bs=4, seed=0
    )
    assert list(dls.vocab) == ["bg", "a", "b"] and dls.c == 3
    xb, yb = dls.valid.one_batch()
    _check_images(xb, 2, size=16)
    assert type(yb) is TensorMask and yb.shape == (2, 16, 16) and yb.dtype == torch.long
    assert set(yb.unique().tolist()) <= {0, 1, 2}
    decoded = dls.decode_batch((xb, yb))
    assert decoded[0][1].codes == ["bg", "a", "b"]  # codes come back for showing
    assert dls.show_batch(max_n=4).size[0] > 0


def label_func_mask(fn):
    return fn.parent / f"{fn.stem}_mask.png"


def test_a_single_string_is_refused_where_a_list_is_expected(folder_data):
    fname = str(get_image_files(folder_data)[0])
    with pytest.raises(TypeError, match="fnames must be a list, got the single str"):
        ImageDataLoaders.from_lists(folder_data, fname, ["cat"] * len(fname))  # would be one item per character
    fnames = get_image_files(folder_data)[:3]
    with pytest.raises(TypeError, match="labels must be a list, got the single str 'abc'"):
        ImageDataLoaders.from_lists(folder_data, fnames, "abc")  # would label them 'a', 'b', 'c'
    with pytest.raises(TypeError, match="fnames must be a list, got the single PosixPath"):
        ImageDataLoaders.from_name_func(folder_data, get_image_files(folder_data)[0], lambda n: n[:3])
    with pytest.raises(TypeError, match="codes must be a sequence of class names, got the string 'abc'"):
        SegmentationDataLoaders.from_label_func(folder_data, fnames, label_func_mask, codes="abc")


def test_mask_values_outside_the_codes_are_refused_naming_the_item(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "img0.png")
    Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(tmp_path / "img1.png")
    mask = np.ones((8, 8), np.uint8)
    Image.fromarray(mask).save(tmp_path / "img0_mask.png")
    mask[0] = 255  # a "void" border, as in CamVid-like sets
    Image.fromarray(mask).save(tmp_path / "img1_mask.png")
    fnames = [tmp_path / "img0.png", tmp_path / "img1.png"]
    dls = SegmentationDataLoaders.from_label_func(
        tmp_path, fnames, label_func_mask, codes=["bg", "a"], valid_pct=0.5, bs=1, seed=0
    )
    first_is_good = dls.train_ds.items[0].name == "img0.png"
    good, bad = (dls.train_ds, dls.valid_ds) if first_is_good else (dls.valid_ds, dls.train_ds)
    assert np.asarray(good[0][1]).max() == 1  # in-range masks load
    with pytest.raises(Exception, match=r"img1\.png(.|\n)*codes 0\.\.1 \(2 codes(.|\n)*up to 255"):
        bad[0]
