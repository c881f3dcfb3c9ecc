"""datablock data with a trainloop-callbacks Learner: export, load_learner and predict as a fastai user expects,
and crafted data configs in an export file that run nothing."""

import sys

import numpy as np
import pytest
import torch
from torch import nn

from datablock import (
    CategoryBlock,
    DataBlock,
    IndexSplitter,
    IntToFloatTensor,
    ItemGetter,
    MultiCategoryBlock,
    Normalize,
    RegressionBlock,
    RegressionSetup,
    ToTensor,
    TransformBlock,
)
from gpu_augment import aug_transforms
from trainloop_callbacks import (
    BCEWithLogitsLossFlat,
    CrossEntropyLossFlat,
    ExportError,
    Learner,
    MSELossFlat,
    load_learner,
)
from typedtensor import TensorCategory, TensorMultiCategory


def _images():
    rng = np.random.default_rng(0)
    items = [(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), "ab"[i % 2]) for i in range(12)]
    block = DataBlock(
        blocks=(TransformBlock(type_tfms=[ToTensor()], batch_tfms=[IntToFloatTensor()]), CategoryBlock),
        get_x=ItemGetter(0),
        get_y=ItemGetter(1),
        splitter=IndexSplitter(range(8, 12)),
        batch_tfms=[*aug_transforms(size=8), Normalize.from_stats([0.5] * 3, [0.25] * 3)],
    )
    return items, block.dataloaders(items, bs=4)


def _cnn():
    torch.manual_seed(0)
    body = [nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*body, nn.Linear(4, 2))


def _vectors(target_block, get_y, n_out):
    items = [([float(i), float(-i), 1.0], *ys) for i, ys in enumerate(get_y(i) for i in range(12))]
    block = DataBlock(
        blocks=(TransformBlock(type_tfms=[RegressionSetup()]), target_block),
        get_x=ItemGetter(0),
        get_y=ItemGetter(1),
        splitter=IndexSplitter(range(8, 12)),
    )
    torch.manual_seed(0)
    return items, block.dataloaders(items, bs=4), nn.Linear(3, n_out)


def test_export_with_aug_transforms_loads_and_predicts_the_same(tmp_path):
    items, dls = _images()
    learn = Learner(dls, _cnn(), CrossEntropyLossFlat(), path=tmp_path)
    label, dec, probs = learn.predict(items[0])
    assert label in ("a", "b") and label == list(dls.vocab)[int(probs.argmax())]
    assert type(dec) is TensorCategory and int(dec) == int(probs.argmax())
    file = learn.export("images.pth")
    cfg = torch.load(file, weights_only=True)["data"]["config"]
    steps = cfg["after_batch"]
    written = [s["type"] for s in steps]
    # the training draws (flip, rotate, zoom, lighting) are never written; the validation resize of
    # aug_transforms(size=...) is, since inference runs it
    affine = [s for s in steps if s["type"] == "gpu_augment.affine:AffineCoordTfm"]
    assert len(affine) == 1 and "LightingTfm" not in str(written)
    assert [t["__step__"]["type"] for t in affine[0]["args"]["tfms"]] == ["gpu_augment.affine:Resize"]
    assert written[0] == "datablock.transforms:IntToFloatTensor" and written[-1] == "datablock.transforms:Normalize"
    loaded = load_learner(file)
    label2, dec2, probs2 = loaded.predict(items[0])
    assert label2 == label and int(dec2) == int(dec) and torch.allclose(probs2, probs, atol=1e-6)


def test_predict_a_category_multi_category_and_regression_target():
    items, dls, model = _vectors(CategoryBlock, lambda i: ["ab"[i % 2]], 2)
    learn = Learner(dls, model, CrossEntropyLossFlat())
    label, dec, probs = learn.predict(items[3])
    assert isinstance(label, str) and label == list(dls.vocab)[int(probs.argmax())]
    assert type(dec) is TensorCategory and probs.shape == (2,) and probs.sum().item() == pytest.approx(1)

    items, dls, model = _vectors(MultiCategoryBlock, lambda i: [["a", "b", "c"][: 1 + i % 3]], 3)
    learn = Learner(dls, model, BCEWithLogitsLossFlat())
    labels, dec, probs = learn.predict(items[2])
    expected = [v for v, p in zip(dls.vocab, probs.tolist(), strict=True) if p > 0.5]
    assert list(labels) == expected and type(dec) is TensorMultiCategory and dec.tolist() == (probs > 0.5).tolist()

    items, dls, model = _vectors(RegressionBlock(), lambda i: [float(i) / 3], 1)
    learn = Learner(dls, model, MSELossFlat())
    value, dec, out = learn.predict(items[5])
    expected = model(torch.tensor([[5.0, -5.0, 1.0]])).detach()[0]
    assert torch.allclose(value, expected) and torch.allclose(dec, expected) and torch.allclose(out, expected)


def test_get_preds_on_unlabelled_data_gives_typed_decoded_predictions():
    items, dls, model = _vectors(CategoryBlock, lambda i: ["ab"[i % 2]], 2)
    learn = Learner(dls, model, CrossEntropyLossFlat())
    dl = dls.test_dl(items[:5])
    inp, preds, targs, decoded = learn.get_preds(dl=dl, with_input=True, with_decoded=True)
    assert targs is None and type(decoded) is TensorCategory and decoded.tolist() == preds.argmax(1).tolist()
    labels = [lab for _, lab in dls.decode_batch((inp, decoded))]
    assert labels == [list(dls.vocab)[i] for i in preds.argmax(1).tolist()]


CANARY = """
from pathlib import Path
Path({canary!r}).write_text("imported")


class Evil:
    config_safe = True

    def __init__(self, *args, **kwargs):
        Path({canary!r}).write_text("built")
"""


@pytest.mark.parametrize(
    "step",
    [
        {"function": "builtins:eval"},
        {"function": "os:system"},
        {"function": "subprocess:getoutput"},
        {"function": "datablock.getters:os.getcwd"},
        {"function": "datablock.getters:get_files"},
        {"function": "trainloop_callbacks.loading:load_learner"},
        {"type": "beside_data_mod:Evil", "args": {}},
    ],
    ids=lambda s: next(iter(s.values())),
)
@pytest.mark.parametrize("where", ["pipeline", "after_batch", "dl_type"])
def test_a_crafted_data_config_in_an_export_runs_nothing(tmp_path, monkeypatch, step, where):
    canary = tmp_path / "canary.txt"
    (tmp_path / "beside_data_mod.py").write_text(CANARY.format(canary=str(canary)))
    monkeypatch.syspath_prepend(str(tmp_path))  # beside the file and on the path
    monkeypatch.delitem(sys.modules, "beside_data_mod", raising=False)
    _, dls, model = _vectors(CategoryBlock, lambda i: ["ab"[i % 2]], 2)
    file = Learner(dls, model, CrossEntropyLossFlat(), path=tmp_path).export("good.pth")
    state = torch.load(file, weights_only=True)
    cfg = state["data"]["config"]
    if where == "pipeline":
        cfg["pipelines"][0][1] = step
    elif where == "after_batch":
        cfg["after_batch"] = [step]
    else:
        cfg["dl_type"] = step.get("function") or step["type"]
    torch.save(state, tmp_path / "crafted.pth")
    for allow in ((), ("beside_data_mod", "os", "builtins", "subprocess")):
        with pytest.raises(ExportError, match="refusing"):
            load_learner(tmp_path / "crafted.pth", allow=allow)
    assert not canary.exists() and "beside_data_mod" not in sys.modules
