"""Points and boxes through the item transforms: each moves them exactly as it moves the pixels of their image."""

import numpy as np
import pytest
import torch
from PIL import Image

from apps_vision import (
    BBoxCreate,
    BBoxLabels,
    CanvasFromImage,
    CropPad,
    DihedralItem,
    FlipItem,
    PILImage,
    PointCreate,
    RandomCrop,
    RandomResizedCrop,
    RatioResize,
    Resize,
)
from apps_vision.coords import dihedral_coords
from typedtensor import TensorBBox, TensorCategory, TensorPoint

H, W = 30, 40


def marked(points: list[tuple[int, int]]) -> tuple[PILImage, TensorPoint]:
    """A black image with one white pixel at each (col, row), and the points at those pixel centres."""
    a = np.zeros((H, W, 3), np.uint8)
    for c, r in points:
        a[r, c] = 255
    img = PILImage.create(a)
    pts = TensorPoint(torch.tensor([[c + 0.5, r + 0.5] for c, r in points]), canvas_size=(H, W))
    return img, pts


def white_at(img: Image.Image) -> list[tuple[float, float]]:
    a = np.asarray(img)[..., 0]
    rows, cols = np.nonzero(a == a.max())
    return sorted(zip((cols + 0.5).tolist(), (rows + 0.5).tolist(), strict=True))


@pytest.mark.parametrize("k", range(8))
def test_dihedral_moves_points_with_the_pixel(k):
    img, pts = marked([(3, 5), (30, 2), (17, 26)])
    moved_img = img if k == 0 else img.transpose(list(Image.Transpose)[[0, 1, 2, 3, 4, 5, 6][k - 1]])
    out = dihedral_coords(pts, k)
    assert out.canvas_size == (moved_img.height, moved_img.width)
    assert sorted(map(tuple, out.tolist())) == white_at(moved_img)


def test_flip_and_dihedral_items_move_the_sample_together():
    img, pts = marked([(3, 5), (30, 2)])
    boxes = TensorBBox(torch.tensor([[3.0, 5, 10, 9]]), canvas_size=(H, W))
    o_img, o_pts, o_box = FlipItem(p=1.0)((img, pts, boxes))
    assert sorted(map(tuple, o_pts.tolist())) == white_at(o_img)
    assert o_box.tolist() == [[W - 10, 5, W - 3, 9]]
    tfm = DihedralItem(p=1.0)
    for _ in range(10):
        d_img, d_pts, d_box = tfm((img, pts, boxes))
        assert sorted(map(tuple, d_pts.tolist())) == white_at(d_img) and d_box.canvas_size == d_pts.canvas_size


def _resampled_centroid(img: Image.Image) -> tuple[float, float]:
    a = np.asarray(img)[..., 0].astype(float)
    rows, cols = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    return float(((cols + 0.5) * a).sum() / a.sum()), float(((rows + 0.5) * a).sum() / a.sum())


@pytest.mark.parametrize(
    "tfm",
    [
        Resize(24),
        Resize((20, 50), method="pad", pad_mode="zeros"),
        Resize(16, method="squish"),
        RandomResizedCrop(24, min_scale=0.5),
        RatioResize(20),
        CropPad(26),
        CropPad((40, 50)),
        RandomCrop(20),
    ],
    ids=lambda t: repr(t)[:40],
)
@pytest.mark.parametrize("split_idx", [0, 1])
def test_resizes_and_crops_keep_points_on_their_blob(tfm, split_idx):
    # a 4x4 blob: resampling spreads it, its centroid stays where the point goes (within a fraction of a pixel)
    a = np.zeros((H, W, 3), np.uint8)
    a[12:16, 18:22] = 255
    img = PILImage.create(a)
    pts = TensorPoint(torch.tensor([[20.0, 14.0]]), canvas_size=(H, W))
    box = TensorBBox(torch.tensor([[18.0, 12, 22, 16]]), canvas_size=(H, W))
    checked = 0
    for _ in range(8):
        o_img, o_pts, o_box = tfm((img, pts, box), split_idx=split_idx)
        assert o_pts.canvas_size == (o_img.height, o_img.width) == o_box.canvas_size
        x1, y1, x2, y2 = o_box[0].tolist()
        if not (x1 >= 1 and y1 >= 1 and x2 <= o_img.width - 1 and y2 <= o_img.height - 1):
            continue  # the blob is cut by the crop: its centroid moved
        checked += 1
        x, y = o_pts[0].tolist()
        cx, cy = _resampled_centroid(o_img)
        assert abs(x - cx) < 0.35 and abs(y - cy) < 0.35
        assert x1 - 1e-4 <= cx <= x2 + 1e-4 and y1 - 1e-4 <= cy <= y2 + 1e-4
    assert checked > 0


def test_a_cropped_away_box_becomes_the_padding_box():
    img = PILImage.create(np.zeros((H, W, 3), np.uint8))
    boxes = TensorBBox(torch.tensor([[0.0, 0, 4, 4], [10, 10, 30, 20], [0, 0, 0, 0]]), canvas_size=(H, W))
    out = CropPad(10)((img, boxes))[1]  # the centre 10x10: x 15..25, y 10..20
    assert out.tolist() == [[0, 0, 0, 0], [0, 0, 10, 10], [0, 0, 0, 0]] and out.canvas_size == (10, 10)


def test_points_without_a_canvas_say_how_to_get_one():
    img = PILImage.create(np.zeros((H, W, 3), np.uint8))
    with pytest.raises(Exception, match="CanvasFromImage"):
        Resize(10)((img, TensorPoint(torch.zeros(1, 2))))
    out = CanvasFromImage()((img, TensorPoint(torch.zeros(1, 2)), TensorBBox(torch.zeros(0, 4))))
    assert out[1].canvas_size == (H, W) == out[2].canvas_size
    with pytest.raises(Exception, match=r"canvas is \(5, 5\) but its image is \(30, 40\)"):
        CanvasFromImage()((img, TensorPoint(torch.zeros(1, 2), canvas_size=(5, 5))))
    with pytest.raises(Exception, match="no image"):
        CanvasFromImage()((TensorPoint(torch.zeros(1, 2)),))


def test_boxes_are_clipped_to_their_image_with_or_without_a_transform():
    img = PILImage.create(np.zeros((H, W, 3), np.uint8))  # 30 rows, 40 columns
    boxes = TensorBBox(torch.tensor([[1.0, 2, 100, 120], [5, 5, 5, 9], [-3, 4, 10, 8]]))
    out = CanvasFromImage()((img, boxes))[1]
    # partly outside: clipped as Resize/crops clip; no area (x1 == x2): the padding box, dropped with its label
    assert out.tolist() == [[1, 2, 40, 30], [0, 0, 0, 0], [0, 4, 10, 8]] and out.canvas_size == (H, W)
    moved = Resize(40, method="squish")(CanvasFromImage()((img, boxes)))[1]  # x * 1, y * 40/30
    assert torch.allclose(moved, torch.tensor([[1.0, 8 / 3, 40, 40], [0, 0, 0, 0], [0, 16 / 3, 10, 32 / 3]]))
    # wholly outside its image (e.g. x and y swapped on a non-square picture): a data error, refused
    with pytest.raises(Exception, match=r"box 1 \[5.0, 32.0, 9.0, 36.0\] lies wholly outside its image of \(30, 40\)"):
        CanvasFromImage()((img, TensorBBox(torch.tensor([[1.0, 1, 4, 4], [5, 32, 9, 36]]))))


def test_creating_points_boxes_and_box_labels():
    pc = PointCreate()
    pc.setup([[[1, 2], [3, 4]]])
    assert pc.c == 4 and pc([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(Exception, match="has 1 points but the training items have 2"):
        pc([[1, 2]])
    with pytest.raises(Exception, match="expected points"):
        pc([1, 2, 3])
    assert BBoxCreate()([]).shape == (0, 4) and BBoxCreate()([1, 2, 3, 4]).tolist() == [[1, 2, 3, 4]]
    with pytest.raises(Exception, match=r"box 1 \[5.0, 0.0, 4.0, 1.0\] has x2 < x1"):
        BBoxCreate()([[0, 0, 1, 1], [5, 0, 4, 1]])
    with pytest.raises(Exception, match="finite"):
        BBoxCreate()([[0, 0, float("nan"), 1]])
    lbl = BBoxLabels()
    lbl.setup([["dog", "cat"], ["cat"]])
    assert list(lbl.vocab) == ["#na#", "cat", "dog"]
    t = lbl(["dog", "cat", "dog"])
    assert isinstance(t, TensorCategory) and t.tolist() == [2, 1, 2] and lbl.decode(t) == ["dog", "cat", "dog"]
    with pytest.raises(Exception, match="'bird' is not in the vocab"):
        lbl(["bird"])
    assert list(BBoxLabels(vocab=["b", "a"], add_na=False).vocab) == ["b", "a"]


def test_box_labels_as_one_string_or_a_tuple_say_to_give_a_list():
    labels = BBoxLabels(vocab=["cat", "dog"])
    assert labels(["cat"]).tolist() == [1]
    for bad in ("cat", ("cat",)):  # a string would be read as the labels 'c', 'a', 't'; a tuple one label at a time
        with pytest.raises(Exception, match=r"give a list, e\.g\. \['cat'\] for one box"):
            labels(bad)
