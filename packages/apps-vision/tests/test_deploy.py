"""Deployment: the exported program and ONNX file agree with `learn.predict`, in a process where tiers cannot be
imported; Pillow's resize reproduced exactly; batched prediction over files."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from PIL import Image

from apps_vision import (
    SHAPES_CODES,
    ImageDataLoaders,
    Resize,
    SegmentationDataLoaders,
    get_image_files,
    pil_resize,
    shapes,
    shapes_label,
    unet_learner,
    vision_learner,
)
from apps_vision.deploy import _ResizeStep

HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript", "onnxruntime"))


@pytest.mark.parametrize("seed", range(4))
def test_pil_resize_gives_pillows_bytes(seed):
    # against Pillow itself: every pixel equal, down- and up-scaling, both pass orders, crop windows
    rng = np.random.default_rng(seed)
    for _ in range(12):
        h, w = (int(v) for v in rng.integers(2, 120, 2))
        th, tw = (int(v) for v in rng.integers(2, 90, 2))
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = torch.from_numpy(a).permute(2, 0, 1).double()
        ref = np.asarray(Image.fromarray(a).resize((tw, th), Image.Resampling.BILINEAR))
        out = pil_resize(img, (th, tw)).permute(1, 2, 0).numpy().astype(np.uint8)
        np.testing.assert_array_equal(out, ref)
        top, left = int(rng.integers(0, h // 2 + 1)), int(rng.integers(0, w // 2 + 1))
        ch, cw = (
            h - top - int(rng.integers(0, (h - top) // 2 + 1)),
            w - left - int(rng.integers(0, (w - left) // 2 + 1)),
        )
        ref = np.asarray(Image.fromarray(a).crop((left, top, left + cw, top + ch)).resize((tw, th), 2))
        window = tuple(torch.tensor(float(v), dtype=torch.float64) for v in (top, left, ch, cw))
        out = pil_resize(img, (th, tw), window).permute(1, 2, 0).numpy().astype(np.uint8)
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("method", ["crop", "squish"])
def test_resize_step_is_resize_on_validation(method):
    rng = np.random.default_rng(1)
    from apps_vision import PILImage

    for h, w, size in [(40, 70, 24), (70, 40, (20, 30)), (17, 17, 32), (300, 20, (16, 9))]:
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ref = np.asarray(Resize(size, method=method)(PILImage.create(a), split_idx=1))
        size2 = (size, size) if isinstance(size, int) else size
        out = _ResizeStep(size2, method, True)(torch.from_numpy(a).permute(2, 0, 1).double())
        np.testing.assert_array_equal(out.permute(1, 2, 0).numpy().astype(np.uint8), ref)


class _Uint8Resize(torch.nn.Module):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def forward(self, img):
        return self.step(img.to(torch.float64)).to(torch.uint8)


def test_exported_resize_runs_the_passes_pillow_runs():
    # one program for every size: no pass (already 32x24), one pass (either axis), both in either order, as
    # Pillow (a pass only along an axis whose length changes; Pillow 13 picks the order) gives the same bytes.
    # The ONNX file's branches: test_program_and_onnx_agree_with_predict_without_tiers (images needing no pass)
    from torch.export import Dim

    from apps_vision import PILImage

    rng = np.random.default_rng(3)
    sizes = [(32, 24), (32, 50), (40, 24), (32, 20), (100, 24), (48, 36), (30, 200), (200, 30), (33, 23), (16, 12)]
    example = torch.zeros(3, 67, 91, dtype=torch.uint8)
    dims = {"img": {1: Dim("h", min=2, max=4096), 2: Dim("w", min=2, max=4096)}}
    for method in ("squish",):  # every branch (no pass, one per axis, both in either order); crop's windows:
        # test_resize_step_is_resize_on_validation and the exported classifier
        module = _Uint8Resize(_ResizeStep((32, 24), method, True))
        program = torch.export.export(module, (example,), dynamic_shapes=dims, strict=False).module()
        for h, w in sizes:
            a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            ref = np.asarray(Resize((32, 24), method=method)(PILImage.create(a), split_idx=1))
            x = torch.from_numpy(a).permute(2, 0, 1).contiguous()
            np.testing.assert_array_equal(program(x).permute(1, 2, 0).numpy(), ref, err_msg=f"{method} {h}x{w}")


def _image_folders(root, n_train=6, n_valid=10, seed=0):
    """cats dark, dogs bright, noisy, each image a different size (the program must take any size); two validation
    images per class have a side of 32 pixels."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("valid", n_valid)):
        for label, value in (("cat", 60), ("dog", 190)):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                h, w = (int(v) for v in rng.integers(24, 80, 2))
                if split == "valid" and i < 2:  # a side of 32: Resize(32)'s crop needs no resampling (no pass)
                    h, w = (32, w) if i == 0 else (h, 32)
                a = np.clip(rng.normal(value, 45, (h, w, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(a).save(root / split / label / f"{label}_{i}.png")
    return root


# run by the `run_without_tiers` fixture (conftest.py): argv[2:] are the program, the ONNX file and the images
_PREDICT_WITHOUT_TIERS = """
import numpy as np
import torch
from PIL import Image

program, onnx_file, files = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
extra = {"tiers.json": ""}
module = torch.export.load(program, extra_files=extra).module()
meta = json.loads(extra["tiers.json"])
out = {"classes": meta["classes"], "task": meta["task"], "program": [], "onnx": []}
images = [np.ascontiguousarray(np.asarray(Image.open(f).convert("RGB")).transpose(2, 0, 1)) for f in files]
with torch.no_grad():
    for a in images:
        idx, scores = module(torch.from_numpy(a))
        out["program"].append([idx.tolist(), scores.tolist()])
if onnx_file:
    import onnxruntime as ort
    sess = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    props = sess.get_modelmeta().custom_metadata_map
    out["onnx_classes"] = json.loads(props["classes"])
    for a in images:
        idx, scores = sess.run(None, {"image": a})
        out["onnx"].append([idx.tolist(), scores.tolist()])
"""


def _predict_without_tiers(run_without_tiers, program, onnx_file, files):
    return run_without_tiers(
        _PREDICT_WITHOUT_TIERS, str(program), str(onnx_file or ""), json.dumps([str(f) for f in files])
    )


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """An untrained classifier whose last bias is moved so that half of the 20 validation images are cats and half
    dogs: the comparison then covers both labels, and images near the decision boundary (no training needed)."""
    root = _image_folders(tmp_path_factory.mktemp("images"), n_train=2)
    files = sorted(root.glob("valid/*/*.png"))
    torch.manual_seed(0)
    dls = ImageDataLoaders.from_folder(root, item_tfms=Resize(32), bs=4)
    learn = vision_learner(dls, "resnet18", pretrained=False)
    with learn.no_bar():
        logits, _ = learn.get_preds(dl=dls.test_dl(files), act=lambda x: x)
    margin = (logits[:, 1] - logits[:, 0]).sort().values
    last = [m for m in learn.model[1].modules() if isinstance(m, torch.nn.Linear)][-1]
    shift = torch.tensor([0.0, -float(margin[9] + margin[10]) / 2])
    last.bias = torch.nn.Parameter(shift if last.bias is None else last.bias.detach() + shift)
    return learn, files


def test_blocker_refuses_tiers(python_without_tiers):
    res = python_without_tiers("import apps_vision\n")
    assert res.returncode != 0 and "apps_vision is blocked" in res.stderr


def test_program_and_onnx_agree_with_predict_without_tiers(classifier, tmp_path, run_without_tiers):
    learn, files = classifier
    assert len(files) == 20
    with learn.no_bar():
        expected = [learn.predict(f) for f in files]
    program = learn.export_program(tmp_path / "model.pt2")
    onnx_file = learn.export_onnx(tmp_path / "model.onnx") if HAS_ONNX else None
    out = _predict_without_tiers(run_without_tiers, program, onnx_file, files)
    assert out["classes"] == ["cat", "dog"] and out["task"] == "classification"
    labels = {str(lbl) for lbl, _, _ in expected}
    assert labels == {"cat", "dog"}  # the check means something: both classes are predicted
    for (label, idx, probs), (p_idx, p_scores) in zip(expected, out["program"], strict=True):
        assert p_idx == int(idx) and out["classes"][p_idx] == str(label)
        np.testing.assert_allclose(p_scores, probs.numpy(), atol=1e-4, rtol=0)
    if HAS_ONNX:
        assert out["onnx_classes"] == ["cat", "dog"]
        for (label, idx, probs), (o_idx, o_scores) in zip(expected, out["onnx"], strict=True):
            assert o_idx == int(idx) and out["classes"][o_idx] == str(label)
            np.testing.assert_allclose(o_scores, probs.numpy(), atol=1e-4, rtol=0)


def test_program_states_its_input(classifier, tmp_path):
    learn, _ = classifier
    extra = {"tiers.json": ""}
    torch.export.load(learn.export_program(tmp_path / "m.pt2"), extra_files=extra)
    meta = json.loads(extra["tiers.json"])
    assert meta["input"]["dtype"] == "uint8" and meta["input"]["layout"] == "CHW" and meta["input"]["channels"] == 3
    assert meta["preprocessing"] == ["_ResizeStep", "div", "normalize"]


def test_predict_files_matches_predict(classifier):
    learn, files = classifier
    with learn.no_bar():
        labels, dec, probs = learn.predict_files(files[:7], bs=3)
        expected = [learn.predict(f) for f in files[:7]]
    assert labels == [str(lbl) for lbl, _, _ in expected] or labels == [lbl for lbl, _, _ in expected]
    assert dec.tolist() == [int(i) for _, i, _ in expected]
    torch.testing.assert_close(probs, torch.stack([p for _, _, p in expected]), atol=1e-5, rtol=0)


def test_unsupported_item_transform_is_refused(tmp_path):
    root = _image_folders(tmp_path, n_train=2, n_valid=1)
    dls = ImageDataLoaders.from_folder(root, item_tfms=Resize(32, method="pad"), bs=2)
    learn = vision_learner(dls, "resnet18", pretrained=False)
    with pytest.raises(ValueError, match="pad"):
        learn.export_program(tmp_path / "m.pt2")


@pytest.mark.slow
def test_segmentation_program_gives_predicts_masks(tmp_path, monkeypatch, run_without_tiers):
    monkeypatch.setenv("TIERS_HOME", str(tmp_path / "tiers"))
    torch.manual_seed(0)
    path = shapes(n=12, size=40, seed=0)
    dls = SegmentationDataLoaders.from_label_func(
        path, get_image_files(path / "images"), shapes_label, codes=SHAPES_CODES, bs=4, seed=0, item_tfms=Resize(32)
    )
    learn = unet_learner(dls, "resnet18", pretrained=False)
    with learn.no_bar():
        learn.fit_one_cycle(1, 1e-2)
    program = learn.export_program(tmp_path / "unet.pt2")
    files = get_image_files(path / "images")[:4]
    out = _predict_without_tiers(run_without_tiers, program, None, files)
    assert out["task"] == "segmentation" and out["classes"] == list(SHAPES_CODES)
    for f, (indices, scores) in zip(files, out["program"], strict=True):
        with learn.no_bar():
            mask, _, probs = learn.predict(f)
        assert np.array_equal(np.asarray(indices), mask.as_subclass(torch.Tensor).numpy())
        np.testing.assert_allclose(scores, probs.numpy(), atol=1e-4, rtol=0)
