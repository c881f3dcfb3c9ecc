"""Items that need another element of their sample: a block places an `ItemTransform`, which sees the whole
sample (here a point takes its `canvas_size` from the image of the same sample)."""

import torch

from datablock import DataBlock, TransformBlock
from dispatch_transforms import ItemTransform
from typedtensor import TensorImage, TensorPoint


class PointCanvas(ItemTransform):
    """Give every point element of a sample the (h, w) of the sample's first image."""

    order = 1  # before resizes and the like, which need the canvas

    def encodes(self, sample: tuple):
        img = next((x for x in sample if isinstance(x, TensorImage)), None)
        if img is None:
            raise ValueError("PointCanvas: the sample has no TensorImage to take the canvas size from")
        size = tuple(img.shape[-2:])
        return tuple(TensorPoint(x, canvas_size=size) if isinstance(x, TensorPoint) else x for x in sample)


def make_image(i):
    return TensorImage(torch.zeros(3, 4 + i, 6 + i))


def make_points(i):
    return TensorPoint(torch.tensor([[float(i), 1.0]]))


def PointBlock():
    return TransformBlock(type_tfms=[make_points], item_tfms=[PointCanvas()])


def test_a_block_item_transform_sees_the_whole_sample():
    dblock = DataBlock(
        blocks=(TransformBlock(type_tfms=[make_image]), PointBlock),
        splitter=lambda items: ([0, 1], [2]),
    )
    dls = dblock.dataloaders([0, 0, 0], bs=1, shuffle=False)  # one size: batches of 1 need no resize
    _, pts = dls.valid.one_batch()
    assert type(pts) is TensorPoint and pts.canvas_size == (4, 6)
    ds = dblock.datasets([0, 1, 2])
    sample = dblock.item_tfms[0](ds.valid[0])  # as the loader runs it: the whole (image, points) tuple
    assert sample[1].canvas_size == (6, 8) and sample[1].tolist() == [[2.0, 1.0]]
    # the decoded sample keeps it, so the point can draw itself on a canvas of its image's size
    ((img, p),) = dls.valid.decode_batch(dls.valid.one_batch(), max_n=1, full=False)
    assert p.canvas_size == (4, 6) == tuple(img.shape[-2:])
