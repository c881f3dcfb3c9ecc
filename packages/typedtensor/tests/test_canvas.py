"""Layered show against pixel expectations, titles, grids and PNG output."""

import numpy as np
import pytest
import torch
from PIL import Image

from typedtensor import (
    Canvas,
    TensorBase,
    TensorBBox,
    TensorCategory,
    TensorImage,
    TensorImageBW,
    TensorMask,
    TensorMultiCategory,
    TensorPoint,
    TensorText,
    show_images,
)
from typedtensor.canvas import PALETTE, color_for

H, W = 12, 16


def _grey_image():
    return TensorImage(torch.full((3, H, W), 0.5))


def test_image_pixels_match_the_tensor():
    data = torch.rand(3, H, W)
    canvas = TensorImage(data).show()
    expected = (data * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert canvas.size == (H, W)
    assert np.array_equal(canvas.to_array(), expected)


def test_uint8_and_black_and_white_images():
    data = torch.randint(0, 256, (1, H, W), dtype=torch.uint8)
    arr = TensorImageBW(data).show().to_array()
    assert np.array_equal(arr[..., 0], data[0].numpy()) and np.array_equal(arr[..., 2], data[0].numpy())
    assert np.array_equal(TensorImageBW(data[0]).show().to_array(), arr)


def test_mask_overlay_changes_exactly_the_masked_pixels():
    mask = torch.zeros(H, W, dtype=torch.long)
    mask[2:5, 3:9] = 1
    mask[7, 10] = 2
    base = _grey_image().show()
    before = base.to_array()
    after = TensorMask(mask).show(ctx=base).to_array()
    changed = (after != before).any(-1)
    assert np.array_equal(changed, mask.numpy() != 0)
    # alpha 0.5 over grey 128: round((128 + colour) / 2) per channel
    assert tuple(after[3, 4]) == tuple(round((128 + c) / 2) for c in PALETTE[0])
    assert tuple(after[7, 10]) == tuple(round((128 + c) / 2) for c in PALETTE[1])


def test_mask_alone_uses_full_palette_colours():
    mask = torch.zeros(H, W, dtype=torch.long)
    mask[1, 1] = 3
    arr = TensorMask(mask).show().to_array()
    assert tuple(arr[1, 1]) == color_for(3) and tuple(arr[0, 0]) == (0, 0, 0)


def test_point_pixel_is_drawn_and_nothing_else_with_radius_zero():
    base = _grey_image().show()
    before = base.to_array()
    pts = TensorPoint(torch.tensor([[5.5, 3.5], [10.9, 8.0]]), canvas_size=(H, W))
    after = pts.show(ctx=base, radius=0, color=(0, 255, 0)).to_array()
    changed = np.argwhere((after != before).any(-1))
    assert sorted(map(tuple, changed)) == [(3, 5), (8, 10)]  # (row, col) = (floor y, floor x)
    assert tuple(after[3, 5]) == (0, 255, 0)


def test_points_outside_the_canvas_are_ignored_when_drawing():
    pts = TensorPoint(torch.tensor([[-5.0, -5.0], [100.0, 3.0]]), canvas_size=(H, W))
    assert not pts.show(radius=0).to_array().any()


def test_box_edge_pixels_carry_the_box_colour_and_inside_is_untouched():
    base = _grey_image().show()
    before = base.to_array()
    boxes = TensorBBox(torch.tensor([[2.0, 3.0, 10.0, 9.0]]), canvas_size=(H, W))
    after = boxes.show(ctx=base).to_array()
    colour = np.array(color_for(1))
    left, top, right, bottom = 2, 3, 9, 8  # pixels [floor x1, ceil x2 - 1] x [floor y1, ceil y2 - 1]
    edges = np.zeros((H, W), bool)
    edges[top, left : right + 1] = edges[bottom, left : right + 1] = True
    edges[top : bottom + 1, left] = edges[top : bottom + 1, right] = True
    assert (after[edges] == colour).all()
    assert np.array_equal(after[~edges], before[~edges])


def test_boxes_get_one_colour_each_and_labels_are_checked():
    boxes = TensorBBox(torch.tensor([[0.0, 0.0, 4.0, 4.0], [6.0, 6.0, 10.0, 10.0]]), canvas_size=(H, W))
    arr = boxes.show().to_array()
    assert tuple(arr[0, 0]) == color_for(1) and tuple(arr[6, 6]) == color_for(2)
    with pytest.raises(ValueError, match="got 1 labels for 2 boxes"):
        boxes.show(labels=["one"])
    labelled = boxes.show(labels=["cat", "dog"]).to_array()
    assert (labelled != arr).any()  # the label text adds pixels


def test_layered_show_image_mask_points_boxes_title():
    img = _grey_image()
    mask = TensorMask(torch.zeros(H, W, dtype=torch.long))
    mask[0, 0] = 1
    pts = TensorPoint(torch.tensor([[8.2, 6.7]]), canvas_size=(H, W))
    boxes = TensorBBox(torch.tensor([[1.0, 1.0, 5.0, 5.0]]), canvas_size=(H, W))
    cat = TensorCategory(torch.tensor(1), vocab=["dog", "cat"])
    ctx = img.show()
    for layer in (mask, pts, boxes, cat):
        assert layer.show(ctx=ctx) is ctx  # each layer draws on the same canvas and returns it
    arr = ctx.to_array()
    assert tuple(arr[6, 8]) == (255, 0, 0)
    assert tuple(arr[1, 1]) == color_for(1)
    assert tuple(arr[0, 0]) != (128, 128, 128)
    assert tuple(arr[11, 15]) == (128, 128, 128)
    assert ctx.title == "cat"
    pil = ctx.to_pil()
    assert pil.height > H and pil.width >= W  # the title is a band above the picture


def test_titles_of_categories_and_text():
    assert TensorCategory(torch.tensor([2, 0]), vocab=["a", "b", "c"]).show().title == "c; a"
    assert TensorCategory(torch.tensor(4)).show().title == "4"
    assert TensorMultiCategory(torch.tensor([1.0, 0.0, 1.0]), vocab=["x", "y", "z"]).show().title == "x; z"
    assert TensorText(torch.tensor([1, 2, 1]), vocab=["pad", "the", "cat"]).show().title == "the cat the"
    assert TensorText(torch.arange(5)).show(max_len=3).title == "0 1 2 ..."
    assert TensorBase(torch.tensor([1.5, 2.0])).show().title == "1.5, 2"
    with pytest.raises(IndexError, match="index 5 is outside the vocab of 2 items"):
        TensorCategory(torch.tensor(5), vocab=["a", "b"]).show()


def test_show_errors_are_clear():
    with pytest.raises(ValueError, match=r"TensorImage.show: expected one image .* got \(2, 3, 4, 4\)"):
        TensorImage(torch.zeros(2, 3, 4, 4)).show()
    with pytest.raises(ValueError, match=r"TensorMask.show: mask is \(4, 4\) but the canvas is \(12, 16\)"):
        TensorMask(torch.ones(4, 4)).show(ctx=_grey_image().show())
    with pytest.raises(ValueError, match=r"TensorPoint\.show: give a ctx canvas or build the tensor with canvas_size"):
        TensorPoint(torch.zeros(1, 2)).show()


def test_show_images_grid_and_png(tmp_path):
    items = [(_grey_image(), TensorCategory(torch.tensor(0), vocab=["a"])), _grey_image(), _grey_image()]
    grid = show_images(items, ncols=2, titles=[None, "second", None], pad=2)
    first = TensorCategory(torch.tensor(0), vocab=["a"]).show(ctx=_grey_image().show()).to_pil()
    second = _grey_image().show()
    second.title = "second"
    cells = [first, second.to_pil(), _grey_image().show().to_pil()]
    cell_w, cell_h = max(c.width for c in cells), max(c.height for c in cells)
    h, w = grid.size
    assert (h, w) == (2 * (cell_h + 2) + 2, 2 * (cell_w + 2) + 2)  # two rows, two columns, padded
    arr = grid.to_array()
    assert tuple(arr[2 + cell_h + 2, 2]) == (128, 128, 128)  # third item: row 2, column 1
    path = grid.save(tmp_path / "grid.png", scale=2)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (2 * w, 2 * h)
    assert grid._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="got 1 titles for 3 items"):
        show_images(items, titles=["x"])
    with pytest.raises(TypeError, match="item 0 holds a int, which cannot show itself"):
        show_images([3])


def test_canvas_validation():
    with pytest.raises(ValueError, match="Canvas: height and width must be >= 0"):
        Canvas(-1, 2)
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 array"):
        Canvas.from_array(np.zeros((2, 2), np.uint8))


def test_an_empty_titled_canvas_takes_the_size_of_the_first_picture():
    ctx = TensorCategory(torch.tensor(0), vocab=["cat"]).show()
    assert ctx.is_empty and ctx.title == "cat"
    data = torch.rand(3, H, W)
    assert TensorImage(data).show(ctx=ctx) is ctx
    assert ctx.size == (H, W) and ctx.title == "cat"
    assert np.array_equal(ctx.to_array(), TensorImage(data).show().to_array())
    mask = torch.zeros(H, W, dtype=torch.long)
    mask[0, 0] = 2
    arr = TensorMask(mask).show(ctx=Canvas(0, 0)).to_array()
    assert tuple(arr[0, 0]) == color_for(2) and arr.shape == (H, W, 3)
    pts = TensorPoint(torch.tensor([[1.0, 2.0]]), canvas_size=(5, 6))
    assert pts.show(ctx=Canvas(0, 0), radius=0).size == (5, 6)
    with pytest.raises(ValueError, match="already holds a"):
        Canvas(2, 2).resize_blank(3, 3)


def test_a_batch_iterates_into_typed_items_for_show_images():
    batch = TensorImage(torch.rand(4, 3, 6, 6))
    items = list(batch)
    assert all(type(i) is TensorImage for i in items)
    grid = show_images(items, ncols=2, pad=0)
    assert grid.size == (12, 12)
    assert np.array_equal(grid.to_array()[6:, 6:], items[3].show().to_array())
