"""detection_learner and DetectionModel: the models' loss terms, valid_loss, a short training, predict, show."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from apps_vision import (
    DETECTION_ARCHS,
    DETECTION_CLASSES,
    LOSS_TERMS,
    BBoxBlock,
    BBoxLblBlock,
    DetectionLearner,
    DetectionLoss,
    DetectionModel,
    Detections,
    FPNBackbone,
    ImageBlock,
    LossTerm,
    MeanAveragePrecision,
    detection_learner,
    detection_shapes,
    get_annotations,
)
from datablock import DataBlock
from typedtensor import TensorBBox


@pytest.fixture
def tiers_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERS_HOME", str(tmp_path / "tiers"))
    return tmp_path


def detection_dls(n_train: int = 8, n_valid: int = 4, size: int = 64, bs: int = 4, **kwargs):
    """The generated detection set through the blocks, as a user would read their own COCO-style data."""
    path = detection_shapes(n_train, n_valid, size, **kwargs)
    ann = {}
    for split in ("train", "valid"):
        for f, b, lbl in zip(*get_annotations(path / f"{split}.json"), strict=True):
            ann[f] = (b, lbl)

    def splitter(items):
        return [i for i, f in enumerate(items) if f.startswith("train")], [
            i for i, f in enumerate(items) if f.startswith("valid")
        ]

    dblock = DataBlock(
        blocks=(ImageBlock, BBoxBlock, BBoxLblBlock(vocab=DETECTION_CLASSES)),
        get_items=lambda _: sorted(ann),
        get_x=lambda f: path / f,
        get_y=[lambda f: ann[f][0], lambda f: ann[f][1]],
        splitter=splitter,
        n_inp=1,
    )
    return dblock.dataloaders(path, bs=bs)


def _batch(n: int = 2, size: int = 64):
    torch.manual_seed(0)
    images = torch.rand(n, 3, size, size)
    boxes = torch.tensor([[[4.0, 4, 30, 36], [0, 0, 0, 0]], [[20.0, 24, 60, 50], [2, 3, 12, 20]]])[:n]
    labels = torch.tensor([[1, 0], [2, 1]])[:n]
    return images, boxes, labels


@pytest.mark.parametrize("arch", DETECTION_ARCHS)
def test_models_give_their_loss_terms_and_detections(arch):
    torch.manual_seed(0)
    model = DetectionModel(arch, 3, min_size=64, max_size=64, fpn_channels=16)
    images, boxes, labels = _batch()
    model.train()
    losses = model(images, boxes, labels)["losses"]
    assert tuple(losses) == LOSS_TERMS[arch]
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        out = model(images)
    assert set(out) == {"detections"} and len(out["detections"]) == 2
    for d in out["detections"]:
        assert set(d) == {"boxes", "scores", "labels"} and d["boxes"].shape[-1] == 4 and len(d["boxes"]) <= 100


def _frozen_reference(net: nn.Module, images, targets):
    """The torchvision model in train mode with every batch-norm layer in eval mode, evaluated directly."""
    net = copy.deepcopy(net).train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    with torch.no_grad():
        return net(images, targets)


def test_valid_loss_is_the_train_mode_loss_with_batch_norm_frozen():
    torch.manual_seed(0)
    model = DetectionModel("retinanet", 3, min_size=64, max_size=64, fpn_channels=16)
    images, boxes, labels = _batch()
    model.train()
    model(images, boxes, labels)  # moves the running statistics away from their initial values
    model.eval()
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    stats = bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)
    targets = [{"boxes": boxes[0, :1], "labels": labels[0, :1]}, {"boxes": boxes[1], "labels": labels[1]}]
    expected = _frozen_reference(model.net, list(images), targets)
    rng = torch.get_rng_state()
    with torch.no_grad():
        out = model(images, boxes, labels)
    assert set(out) == {"detections", "losses"}
    for k, v in expected.items():
        assert out["losses"][k].item() == pytest.approx(v.item(), rel=1e-5)
    # nothing moved: running statistics, the modes of every module, the global random state
    assert torch.equal(bn.running_mean, stats[0]) and torch.equal(bn.running_var, stats[1])
    assert int(bn.num_batches_tracked) == stats[2]
    assert not any(m.training for m in model.modules())
    assert torch.equal(torch.get_rng_state(), rng)


def test_fpn_backbone_finds_the_stages_of_registry_bodies():
    fpn = FPNBackbone("resnet18", out_channels=16)
    assert fpn.strides == [8, 16, 32, 64, 128]
    feats = fpn(torch.rand(1, 3, 64, 64))
    assert [tuple(f.shape[-2:]) for f in feats.values()] == [(8, 8), (4, 4), (2, 2), (1, 1), (1, 1)]
    assert FPNBackbone("mobilenet_v3_small", out_channels=16, extra="pool").strides == [8, 16, 32, 64]
    with pytest.raises(ValueError, match="convolutional backbone"):
        FPNBackbone("vit_b_16")


def test_bad_arguments_are_refused(tiers_home):
    dls = detection_dls(n_train=4, n_valid=2, size=32, bs=2)
    with pytest.raises(ValueError, match="unknown arch 'yolo'"):
        detection_learner(dls, "yolo")
    with pytest.raises(ValueError, match="n_classes=7 but the data's vocab has 4"):
        detection_learner(dls, n_classes=7)
    pair = ([_batch()], [_batch()])
    with pytest.raises(ValueError, match="pass n_classes="):
        detection_learner(pair)
    with pytest.raises(ValueError, match="needs targets"):
        DetectionModel("fcos", 3, min_size=32, max_size=32, fpn_channels=16)(torch.rand(1, 3, 32, 32))


def test_a_vocab_without_padding_label_is_refused(tiers_home):
    class Data:
        def __init__(self):
            self.vocab = ["circle", "square"]
            self.train = self.valid = [_batch()]

    with pytest.raises(ValueError, match="must start with the background/padding label '#na#'"):
        detection_learner(Data())


def test_short_training_lowers_the_loss_and_records_each_term(tiers_home):
    torch.manual_seed(0)
    dls = detection_dls(n_train=8, n_valid=4, size=48, bs=4)
    learn = detection_learner(dls, "retinanet", fpn_channels=16)
    assert isinstance(learn, DetectionLearner) and learn.model.net.transform.min_size == (48,)
    fixed = [next(iter(dls.train))]
    with learn.no_bar():
        before = learn.validate(dl=fixed)
        learn.fit(3, 2e-3)
        after = learn.validate(dl=fixed)
    names = learn.recorder.metric_names
    assert names[1:-1] == ["train_loss", "valid_loss", "classification", "bbox_regression", "map", "map50"]
    assert after[0] < 0.8 * before[0], (before, after)
    row = learn.recorder.values[-1]
    assert row[1] == pytest.approx(row[2] + row[3], rel=1e-5)  # valid_loss is the sum of the recorded terms
    assert 0 <= row[4] <= row[5] <= 1  # mAP@[.5:.95] <= mAP@.5


def test_predict_thresholds_and_suppresses(tiers_home):
    """A model with fixed detections: predict keeps the scores >= thresh and removes overlaps of one class."""

    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, images, boxes=None, labels=None):
            det = {
                "boxes": torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10], [1, 0, 11, 10], [20, 20, 30, 30]]),
                "scores": torch.tensor([0.9, 0.8, 0.7, 0.3]),
                "labels": torch.tensor([1, 1, 2, 2]),
            }
            return {"detections": [det] * len(images)}

    learn = DetectionLearner(([_batch()], [_batch()]), Fixed(), loss_func=DetectionLoss())
    learn.vocab = ["#na#", "circle", "square"]
    res = learn.predict(torch.rand(3, 32, 40), thresh=0.5)
    assert isinstance(res, Detections) and isinstance(res.boxes, TensorBBox)
    # the box of score .8 overlaps the .9 one of its class (IoU 9/11): suppressed; the other class's stays
    assert res.labels == ["circle", "square"] and res.scores.tolist() == pytest.approx([0.9, 0.7])
    assert res.boxes.tolist() == [[0, 0, 10, 10], [1, 0, 11, 10]] and res.boxes.canvas_size == (32, 40)
    assert learn.predict(torch.rand(3, 32, 40), thresh=0.5, nms_iou=None).labels == ["circle", "circle", "square"]
    with pytest.raises(TypeError, match=r"image tensor \(3, h, w\)"):
        learn.predict(torch.rand(32, 40))


def test_predict_and_show_results_on_block_data(tiers_home):
    torch.manual_seed(0)
    dls = detection_dls(n_train=4, n_valid=2, size=48, bs=2)
    learn = detection_learner(dls, "fcos", fpn_channels=16, metrics=[])
    assert [m.name for m in learn.metrics] == list(LOSS_TERMS["fcos"])
    item = sorted(dls.valid_ds.items)[0]
    res = learn.predict(item, thresh=0.0)
    assert res.boxes.shape[-1] == 4 and len(res.labels) == len(res.scores) <= 100
    assert all(name in ("circle", "square", "triangle") for name in res.labels)
    assert res.boxes.canvas_size == (48, 48)
    preds, targets = learn.get_preds()
    assert len(preds) == len(targets) == 2 and all(len(t["boxes"]) >= 1 for t in targets)
    canvas = learn.show_results(max_n=2, thresh=0.0, scale=1)
    assert canvas.size[0] > 2 * 48 and canvas.size[1] > 2 * 48  # two rows of target | prediction


def test_model_describes_itself_as_data():
    model = DetectionModel("fasterrcnn", 4, min_size=32, max_size=48, fpn_channels=16)
    cfg = model.to_config()
    assert cfg["arch"] == "fasterrcnn" and cfg["n_classes"] == 4 and cfg["pretrained"] is False
    rebuilt = DetectionModel.from_config(cfg)
    mine, theirs = model.state_dict(), rebuilt.state_dict()
    assert mine.keys() == theirs.keys() and all(mine[k].shape == theirs[k].shape for k in mine)


def test_loss_term_and_map_metrics_read_the_prediction():
    class Learn:
        def __init__(self):
            self.pred = {"losses": {"a": torch.tensor(2.0)}, "detections": []}
            self.xb = (torch.zeros(3, 3, 8, 8),)
            self.yb = (torch.zeros(3, 1, 4), torch.zeros(3, 1, dtype=torch.long))

    term = LossTerm("a")
    term.accumulate(Learn())
    assert term.value == 2.0
    with pytest.raises(ValueError, match=r"terms \['a'\]"):
        LossTerm("b").accumulate(Learn())
    m = MeanAveragePrecision()
    m.accumulate(Learn())
    assert m.value is None or m.value == -1.0


@pytest.mark.slow
def test_mixed_precision_bf16_trains_a_detector():
    from trainloop_callbacks import MixedPrecision

    torch.manual_seed(0)
    b = _batch(2, 64)
    learn = detection_learner(([b, b], [b]), "retinanet", n_classes=3, fpn_channels=16, cbs=[MixedPrecision("bf16")])
    with learn.no_bar():
        before = learn.validate(dl=[b])[0]
        learn.fit(3, 3e-3)
        after = learn.validate(dl=[b])[0]
    assert after < before and all(torch.isfinite(torch.tensor(v)) for v in learn.recorder.values[-1][:4])
