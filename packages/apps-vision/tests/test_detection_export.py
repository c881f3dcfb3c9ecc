"""Detection data and models at deployment: `test_dl` on unlabelled images, the loaders' config round trip with
`bb_pad`, and detection models through `export_program` / `export_onnx`."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from PIL import Image

from apps_vision import (
    DETECTION_CLASSES,
    BBoxBlock,
    BBoxLblBlock,
    ImageBlock,
    detection_learner,
    detection_predictor,
    detection_shapes,
    get_annotations,
)
from datablock import DataBlock, DataLoaders, ItemGetter, RandomSplitter
from typedtensor import TensorBBox, TensorImage

HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript", "onnxruntime"))


@pytest.fixture
def shapes_items(tmp_path, monkeypatch):
    """(path, boxes, labels) items of the generated detection set: plain data, so every step exports."""
    monkeypatch.setenv("TIERS_HOME", str(tmp_path / "tiers"))
    path = detection_shapes(8, 4, 48, seed=1)
    items = []
    for split in ("train", "valid"):
        for f, b, lbl in zip(*get_annotations(path / f"{split}.json"), strict=True):
            items.append((path / f, b, lbl))
    return items


def _box_dls(items, bs=4):
    dblock = DataBlock(
        blocks=(ImageBlock, BBoxBlock, BBoxLblBlock(vocab=DETECTION_CLASSES)),
        get_x=ItemGetter(0),
        get_y=[ItemGetter(1), ItemGetter(2)],
        splitter=RandomSplitter(0.25, seed=0),
        n_inp=1,
    )
    return dblock.dataloaders(items, bs=bs)


def test_test_dl_of_unlabelled_box_data(shapes_items):
    # bb_pad is the loaders' before_batch: the unlabelled items of test_dl have no boxes, and pass it unchanged
    dls = _box_dls(shapes_items)
    files = [(it[0],) for it in shapes_items[:5]]  # unlabelled: the image alone
    batches = list(dls.test_dl(files, bs=3))
    assert [len(b) for b in batches] == [1, 1]
    (x1,), (x2,) = batches
    assert isinstance(x1, TensorImage) and x1.shape == (3, 3, 48, 48) and x2.shape == (2, 3, 48, 48)
    ref = dls.valid.new(dataset=dls.valid_ds.new(files[:3], split_idx=1, with_labels=False), before_batch=None)
    torch.testing.assert_close(x1.as_subclass(torch.Tensor), next(iter(ref))[0].as_subclass(torch.Tensor))
    labelled = next(iter(dls.test_dl(shapes_items[:3], with_labels=True)))
    assert isinstance(labelled[1], TensorBBox) and labelled[1].shape[0] == 3
    assert labelled[2].shape == labelled[1].shape[:2]


def test_loaders_config_with_bb_pad_round_trips(shapes_items):
    dls = _box_dls(shapes_items)
    cfg = json.loads(json.dumps(dls.to_config()))  # plain data only
    assert cfg["before_batch"] == [{"function": "gpu_augment.bbox:bb_pad"}]
    back = DataLoaders.from_config(cfg)
    assert back.to_config()["before_batch"] == cfg["before_batch"]
    got = next(iter(back.test_dl(shapes_items[:4], with_labels=True)))
    want = next(iter(dls.test_dl(shapes_items[:4], with_labels=True)))
    for g, w in zip(got, want, strict=True):
        assert type(g) is type(w)
        torch.testing.assert_close(g.as_subclass(torch.Tensor), w.as_subclass(torch.Tensor))
    (x,) = next(iter(back.test_dl([(it[0],) for it in shapes_items[:2]])))
    assert x.shape == (2, 3, 48, 48)


@pytest.fixture
def detector(shapes_items):
    torch.manual_seed(0)
    dls = _box_dls(shapes_items)
    learn = detection_learner(dls, "fcos", fpn_channels=16, metrics=[], score_thresh=0.01)
    return learn, [(it[0],) for it in shapes_items[:4]]


def test_detection_predictor_is_predict(detector):
    # the module the exporters trace computes what predict gives: same labels, scores, boxes
    learn, items = detector
    predictor, meta, fixed = detection_predictor(learn, thresh=0.05, nms_iou=0.5)
    assert fixed == (48, 48) and meta["input"]["height"] == 48 and meta["classes"] == list(learn.vocab)
    assert meta["preprocessing"] == ["div", "normalize"]  # bb_pad and PadEmptyBoxes (targets only) left out
    n = 0
    for (f,) in items:
        want = learn.predict((f,), thresh=0.05, nms_iou=0.5)
        image = torch.from_numpy(np.asarray(Image.open(f).convert("RGB"))).permute(2, 0, 1).contiguous()
        with torch.no_grad():
            boxes, labels, scores = predictor(image)
        assert [learn.vocab[i] for i in labels.tolist()] == want.labels
        torch.testing.assert_close(scores, want.scores, atol=1e-5, rtol=0)
        torch.testing.assert_close(boxes, want.boxes.as_subclass(torch.Tensor), atol=1e-3, rtol=0)
        n += len(labels)
    assert n > 0  # the comparison covers detections


def test_detection_export_names_the_exporters_limit(detector, tmp_path):
    learn, _ = detector
    with pytest.raises(RuntimeError, match=r"export_program: torch.export .* cannot trace the fcos detector"):
        learn.export_program(tmp_path / "det.pt2", thresh=0.05)
    assert not (tmp_path / "det.pt2").exists()
    if HAS_ONNX:
        with pytest.raises(RuntimeError, match=r"export_onnx: .*built on torch.export"):
            learn.export_onnx(tmp_path / "det.onnx", thresh=0.05)
