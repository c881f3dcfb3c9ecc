"""Boxes still enclose their shapes and points stay on their marks after the item and batch transforms of a
DataBlock (ImageBlock, PointBlock, BBoxBlock, BBoxLblBlock), over 60 seeded random pipelines."""

import random

import numpy as np
import pytest
import torch

from apps_vision import (
    BBoxBlock,
    BBoxLblBlock,
    CropPad,
    DihedralItem,
    FlipItem,
    ImageBlock,
    PointBlock,
    RandomCrop,
    RandomResizedCrop,
    Resize,
)
from datablock import DataBlock
from gpu_augment import aug_transforms, empty_boxes

H, W, N = 48, 64, 4
SEEDS = range(60)
CHANNEL = {"a": 0, "b": 2}  # shape "a" is drawn in red, shape "b" in blue; the point marks in green


def make_item(rng: np.random.Generator) -> dict:
    """A black picture with two filled rectangles (their exact boxes) and three 5x5 green marks (their centres)."""
    img = np.zeros((H, W, 3), np.uint8)
    boxes, labels = [], []
    for name in ("a", "b"):
        w, h = int(rng.integers(6, 20)), int(rng.integers(6, 16))
        x, y = int(rng.integers(0, W - w)), int(rng.integers(0, H - h))
        img[y : y + h, x : x + w, CHANNEL[name]] = 255
        boxes.append([x, y, x + w, y + h])
        labels.append(name)
    points = []
    for _ in range(3):
        c, r = int(rng.integers(12, W - 12)), int(rng.integers(10, H - 10))
        img[r - 2 : r + 3, c - 2 : c + 3, 1] = 255
        points.append([c + 0.5, r + 0.5])
    return {"img": img, "boxes": boxes, "labels": labels, "points": points}


def item_tfms(rng: random.Random) -> list:
    """One of the sizing transforms (order 1: every item gets one size), after a flip, dihedral or pad (order 0)."""
    first = [FlipItem(p=0.5), DihedralItem(p=1.0), CropPad((52, 70)), None][rng.randrange(4)]
    sizing = [
        Resize(40),
        Resize((40, 56), method="pad", pad_mode="zeros"),
        Resize(36, method="squish"),
        RandomResizedCrop(40, min_scale=0.5),
        RandomCrop(40),
    ][rng.randrange(5)]
    return [t for t in (first, sizing) if t is not None]


def batch_of(seed: int, augment: bool = True):
    """One seeded batch through the blocks' steps, the item transforms and (with `augment`) aug_transforms."""
    rng = np.random.default_rng(seed)
    items = [make_item(rng) for _ in range(N)]
    random.seed(seed)
    torch.manual_seed(seed)
    dblock = DataBlock(
        blocks=(ImageBlock, PointBlock, BBoxBlock, BBoxLblBlock),
        getters=[lambda o: o["img"], lambda o: o["points"], lambda o: o["boxes"], lambda o: o["labels"]],
        splitter=lambda items: (list(range(len(items))), []),
        item_tfms=item_tfms(random.Random(seed)),
        batch_tfms=aug_transforms(
            max_rotate=30, max_zoom=1.3, max_warp=0.2, max_lighting=0, p_affine=1.0, pad_mode="zeros"
        )
        if augment
        else None,
        n_inp=1,
    )
    dls = dblock.dataloaders(items, bs=N, shuffle=False)
    b = dls.train.one_batch()
    return dls, b, dls.train.decode(b)


@pytest.mark.parametrize("seed", SEEDS)
def test_boxes_enclose_their_shapes_and_points_stay_on_their_marks(seed):
    # the same seed without the batch augmentation replays the item transforms: it says which marks an item
    # transform cut (a point whose mark was cropped away has nothing to stay on)
    _, _, (_, item_pts, _, _) = batch_of(seed, augment=False)
    ih, iw = item_pts.canvas_size
    intact = (
        (item_pts[..., 0] >= 4) & (item_pts[..., 0] <= iw - 4) & (item_pts[..., 1] >= 4) & (item_pts[..., 1] <= ih - 4)
    )
    dls, encoded, (img, pts, boxes, labels) = batch_of(seed)
    assert encoded[1].abs().max() < 3  # the model sees points scaled to [-1, 1] of the canvas (off-canvas: beyond)
    img = img.float() / img.float().max()
    h, w = img.shape[-2:]
    assert pts.canvas_size == (h, w) == boxes.canvas_size and pts.shape == (N, 3, 2)
    vocab = list(dls.vocab)
    on_canvas = 0
    for i in range(N):
        # labels and boxes agree: a box without area carries the padding label '#na#' (index 0), and no other does
        empty = empty_boxes(boxes[i].as_subclass(torch.Tensor))
        assert ((labels[i] == 0) == empty).all(), (boxes[i], labels[i])
        for name, c in CHANNEL.items():
            ys, xs = torch.nonzero(img[i, c] > 0.5, as_tuple=True)
            live = [k for k in range(boxes.shape[1]) if not empty[k] and vocab[int(labels[i, k])] == name]
            assert len(live) <= 1
            if not live:  # the shape left the canvas (at most a sliver of partly covered pixels remains)
                assert len(xs) <= 2, (name, len(xs))
                continue
            x1, y1, x2, y2 = boxes[i, live[0]].tolist()
            cx, cy = xs.double() + 0.5, ys.double() + 0.5
            assert ((cx >= x1 - 1) & (cx <= x2 + 1) & (cy >= y1 - 1) & (cy <= y2 + 1)).all(), (name, (x1, y1, x2, y2))
        for j, (x, y) in enumerate(pts[i].tolist()):
            if intact[i, j] and 1 <= x <= w - 1 and 1 <= y <= h - 1:
                on_canvas += 1
                assert img[i, 1, int(y), int(x)] > 0.3, (x, y)
    assert on_canvas >= 3  # marks stay on the canvas in every seed: the check above is not vacuous
