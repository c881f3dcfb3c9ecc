import pytest
import torch

from gpu_augment import (
    AffineCoordTfm,
    AffineParams,
    DropEmptyBoxes,
    Flip,
    PadEmptyBoxes,
    affine_boxes,
    bb_pad,
    empty_boxes,
)
from typedtensor import TensorBBox, TensorImage, TensorMultiCategory


def test_bb_pad_pads_with_zero_boxes_and_pad_idx():
    a = (TensorImage(torch.zeros(3, 4, 4)), torch.tensor([[1.0, 1, 3, 3]]), torch.tensor([5]))
    b = (
        TensorImage(torch.zeros(3, 4, 4)),
        torch.tensor([[0.0, 0, 2, 2], [1, 1, 4, 4], [0, 1, 1, 3]]),
        torch.tensor([1, 2, 3]),
    )
    pa, pb = bb_pad([a, b], pad_idx=0)
    assert pa[1].tolist() == [[1, 1, 3, 3], [0, 0, 0, 0], [0, 0, 0, 0]] and pa[2].tolist() == [5, 0, 0]
    assert torch.equal(pb[1], b[1]) and pa[0] is a[0]
    with pytest.raises(ValueError, match="sample 0"):
        bb_pad([(torch.zeros(2, 3), torch.zeros(2))])


def test_boxes_pushed_off_the_canvas_become_padding_boxes():
    boxes = torch.tensor([[[1.0, 1, 5, 5], [0, 0, 0, 0], [8, 2, 10, 6]]])
    # shift the content right by half the canvas: sample from x - 1 (normalised)
    m = torch.eye(3)[None].clone()
    m[0, 0, 2] = -1.0
    out = affine_boxes(boxes, AffineParams(m, (10, 10), (10, 10)))
    assert out[0, 0].tolist() == pytest.approx([6, 1, 10, 5])
    assert out[0, 1].tolist() == [0, 0, 0, 0]  # padding stays padding
    assert out[0, 2].tolist() == [0, 0, 0, 0]  # left the canvas
    assert empty_boxes(out).tolist() == [[False, True, True]]


def test_drop_empty_boxes_removes_them_with_their_labels():
    boxes = TensorBBox(torch.tensor([[1.0, 1, 3, 3], [0, 0, 0, 0], [2, 2, 5, 4]]), canvas_size=(8, 8))
    labels = TensorMultiCategory(torch.tensor([4, 0, 7]))
    img = TensorImage(torch.zeros(3, 8, 8))
    out_img, out_boxes, out_labels = DropEmptyBoxes()((img, boxes, labels))
    assert out_img is img
    assert out_boxes.tolist() == [[1, 1, 3, 3], [2, 2, 5, 4]] and out_boxes.canvas_size == (8, 8)
    assert out_labels.tolist() == [4, 7] and isinstance(out_labels, TensorMultiCategory)
    with pytest.raises(Exception, match="TensorBBox followed by its labels"):
        DropEmptyBoxes()((img, boxes))
    assert DropEmptyBoxes()((img, labels))[1] is labels  # no boxes (an unlabelled test item): nothing to drop
    # decoding drops them too (a decoded batch item is shown without its padding boxes)
    assert DropEmptyBoxes().decode((img, boxes, labels))[2].tolist() == [4, 7]


def test_flip_moves_boxes_exactly():
    box = TensorBBox(torch.tensor([[[1.0, 2, 4, 7]]]), canvas_size=(10, 20))
    out = Flip(p=1.0)((TensorImage(torch.zeros(1, 1, 10, 20)), box))[1]
    assert out.tolist() == [[[16, 2, 19, 7]]]
    assert isinstance(AffineCoordTfm(), AffineCoordTfm)


def test_bb_pad_finds_the_boxes_by_type_and_pads_boxes_without_labels():
    img = TensorImage(torch.zeros(3, 4, 4))
    pts = torch.zeros(2, 2)
    one = TensorBBox(torch.tensor([[1.0, 1, 3, 3]]), canvas_size=(4, 4))
    two = TensorBBox(torch.tensor([[1.0, 1, 3, 3], [0, 0, 2, 2]]), canvas_size=(4, 4))
    a, b = bb_pad([(img, one, torch.tensor([5]), pts), (img, two, torch.tensor([1, 2]), pts)], pad_idx=0)
    assert a[1].tolist() == [[1, 1, 3, 3], [0, 0, 0, 0]] and a[2].tolist() == [5, 0] and a[3] is pts
    assert isinstance(a[1], TensorBBox) and a[1].canvas_size == (4, 4) and b[2].tolist() == [1, 2]
    a, b = bb_pad([(img, one), (img, two)])
    assert a[1].tolist() == [[1, 1, 3, 3], [0, 0, 0, 0]] and len(a) == 2
    with pytest.raises(ValueError, match="sample 1 needs boxes"):
        bb_pad([(img, one, torch.tensor([5])), (img, two, torch.tensor([1]))])


def test_pad_empty_boxes_gives_emptied_boxes_the_padding_label():
    img = TensorImage(torch.zeros(2, 3, 8, 8))
    boxes = TensorBBox(torch.tensor([[[1.0, 1, 3, 3], [0, 0, 0, 0]], [[2, 2, 2, 5], [1, 1, 4, 4]]]), canvas_size=(8, 8))
    labels = TensorMultiCategory(torch.tensor([[4, 6], [7, 3]]))
    out = PadEmptyBoxes(pad_idx=0)((img, boxes, labels))
    assert out[1] is boxes and out[2].tolist() == [[4, 0], [0, 3]] and isinstance(out[2], TensorMultiCategory)
    assert PadEmptyBoxes()((img,)) == (img,)  # no boxes: passes through
    with pytest.raises(Exception, match="labels of shape"):
        PadEmptyBoxes()((img, boxes, labels[:, :1]))


def test_bb_pad_passes_samples_without_boxes():
    # the unlabelled items of test_dl: typed images alone (or with other typed inputs), nothing to pad
    img = TensorImage(torch.zeros(3, 4, 4))
    samples = [(img,), (img,)]
    out = bb_pad(samples)
    assert out == samples and out[0][0] is img
    pair = [(img, TensorImage(torch.ones(3, 4, 4)))]
    assert bb_pad(pair)[0][1] is pair[0][1]
    one = TensorBBox(torch.tensor([[1.0, 1, 3, 3]]), canvas_size=(4, 4))
    with pytest.raises(ValueError, match="sample 1 has no boxes"):
        bb_pad([(img, one, torch.tensor([5])), (img,)])
    with pytest.raises(ValueError, match="sample 0 must hold an image and its boxes"):
        bb_pad([(torch.zeros(3, 4, 4),)])  # a plain tensor alone: not a typed image, not boxes


def test_bb_pad_is_marked_config_safe():
    assert bb_pad.config_safe is True  # the marker datablock's SafeResolver requires to name it in a config
