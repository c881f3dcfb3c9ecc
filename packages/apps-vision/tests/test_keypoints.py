"""Key-point regression on the generated set: a smoke test of the whole path (default suite) and the issue's
acceptance (mean point error <= 3 px at 64 px after a fit of <= 2 minutes on CPU; marked acceptance)."""

import os
import time

import pytest
import torch
from torch import nn

from apps_vision import ImageBlock, PointBlock, detection_shapes, get_keypoints, vision_learner
from datablock import DataBlock, FuncSplitter
from trainloop_callbacks.layers import SigmoidRange
from typedtensor import TensorPoint

# as in test_acceptance.py: the time limit holds on an idle machine, so it is asserted with TIERS_ASSERT_TIMING=1
_TIMED = os.environ.get("TIERS_ASSERT_TIMING") == "1"


def keypoint_dls(path, bs):
    pts = {}
    for split in ("train", "valid"):
        names, points = get_keypoints(path / f"{split}.json")
        pts.update(zip(names, points, strict=True))
    dblock = DataBlock(
        blocks=(ImageBlock, PointBlock),
        get_x=lambda f: path / f,
        get_y=lambda f: pts[f],
        splitter=FuncSplitter(lambda f: f.startswith("valid")),
    )
    return dblock.dataloaders(list(pts), bs=bs), pts


def test_keypoint_regression_smoke(tmp_path):
    torch.manual_seed(0)
    path = detection_shapes(n_train=8, n_valid=4, size=32, n_shapes=(1, 1), classes=["square"], dest=tmp_path / "kp")
    dls, pts = keypoint_dls(path, bs=4)
    assert dls.c == 10 and dls.loss_kind == {"kind": "mse", "axis": -1}  # 5 points: centre and 4 corners
    _, yb = dls.one_batch()
    assert isinstance(yb, TensorPoint) and yb.shape == (4, 5, 2) and yb.canvas_size == (32, 32)
    assert yb.abs().max() <= 1  # the model's convention: [-1, 1] of the canvas
    learn = vision_learner(dls, "resnet18", pretrained=False, y_range=(-1, 1))
    with learn.no_bar():
        learn.fit(1, 1e-3)
        points, raw, _ = learn.predict(path / "valid/0000.png")
        learn.show_results(max_n=2).save(tmp_path / "results.png")
    assert isinstance(points, TensorPoint) and points.shape == (5, 2) and points.canvas_size == (32, 32)
    assert torch.allclose(points, (raw.reshape(5, 2) + 1) * 16)  # decoded back to pixels of the 32 px picture
    assert (tmp_path / "results.png").stat().st_size > 0
    # the targets decode back to the annotated pixels
    first = dls.valid.decode_batch(dls.valid.one_batch(), max_n=1)[0][1]
    assert torch.allclose(first, torch.tensor(pts["valid/0000.png"]), atol=1e-4)


@pytest.mark.slow
@pytest.mark.acceptance
def test_keypoints_within_3px_at_64px_in_2_minutes(tmp_path):
    """resnet18 from scratch with a flattening head (the last 2x2 feature map keeps where things are); the default
    concat-pool head reached 3.15 px in 101 s (bs 64, lr 1e-2, 12 epochs), see tools/bench/keypoint_regression.py."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        path = detection_shapes(
            n_train=1000, n_valid=50, size=64, n_shapes=(1, 1), classes=["square"], dest=tmp_path / "kp"
        )
        dls, _ = keypoint_dls(path, bs=32)
        head = nn.Sequential(nn.Flatten(), nn.Linear(512 * 2 * 2, dls.c), SigmoidRange(-1, 1))
        learn = vision_learner(dls, "resnet18", pretrained=False, y_range=(-1, 1), custom_head=head)
        start = time.perf_counter()
        with learn.no_bar():
            learn.fit_one_cycle(8, 3e-3)
            fit = time.perf_counter() - start
            preds, targs = learn.get_preds()
    finally:
        torch.set_num_threads(threads)
    err = float(((preds.as_subclass(torch.Tensor).reshape(targs.shape) - targs) * 32).norm(dim=-1).mean())
    print(f"key points: mean error {err:.2f} px at 64 px after a {fit:.0f} s fit")
    assert err <= 3.0
    assert not _TIMED or fit <= 120
