"""The issue's acceptance: the four-line example, and the two trainings on the data that ship (slow).

The trainings' target is "in <= 3 minutes on 2 CPU cores". Each runs in a fresh interpreter (this file run as a
script) with `torch.set_num_threads(2)` and OpenMP's passive wait policy, and reports its quality, its process CPU
time and its wall time. The CPU time (<= 360 s: 3 minutes of 2 cores) is asserted always: with passive waits it
counts the work done, not the time a loaded machine made the threads spin. The wall time (<= 180 s) holds on an
idle machine only, so it is asserted when TIERS_ASSERT_TIMING=1.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from apps_vision import (
    SHAPES_CODES,
    ImageDataLoaders,
    Resize,
    SegmentationDataLoaders,
    digits,
    get_image_files,
    shapes,
    shapes_label,
    unet_learner,
    vision_learner,
)
from gpu_augment import aug_transforms
from trainloop_callbacks import ClassificationInterpretation
from trainloop_callbacks.metrics import accuracy

_TIMED = os.environ.get("TIERS_ASSERT_TIMING") == "1"
CPU_SECONDS, WALL_SECONDS = 360.0, 180.0  # 3 minutes on 2 cores


@pytest.fixture
def tiers_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERS_HOME", str(tmp_path / "tiers"))
    return tmp_path


def test_four_line_example(tiers_home):
    torch.manual_seed(0)
    path = digits(max_per_class=8)
    dls = ImageDataLoaders.from_folder(
        path, valid_pct=0.2, seed=0, item_tfms=Resize(32), batch_tfms=aug_transforms(do_flip=False), bs=16
    )
    learn = vision_learner(dls, "resnet18", pretrained=False, metrics=accuracy)
    with learn.no_bar():
        learn.fit_one_cycle(1)
        learn.show_results(max_n=4).save(tiers_home / "results.png")
        interp = ClassificationInterpretation.from_learner(learn)
    interp.plot_confusion_matrix(tiers_home / "confusion.png")
    assert len(learn.recorder.values) == 1 and 0 <= learn.recorder.values[-1][2] <= 1
    assert int(interp.confusion_matrix().sum()) == len(dls.valid_ds) == 16
    assert (tiers_home / "results.png").stat().st_size > 0 and (tiers_home / "confusion.png").stat().st_size > 0


def train_digits() -> dict:
    """The shipped digits at 32 px, resnet18 from scratch: validation accuracy after one-cycle training."""
    torch.manual_seed(0)
    dls = ImageDataLoaders.from_folder(digits(), valid_pct=0.2, seed=0, item_tfms=Resize(32), bs=64)
    learn = vision_learner(dls, "resnet18", pretrained=False, metrics=accuracy)
    with learn.no_bar():
        learn.fit_one_cycle(DIGITS_EPOCHS, 5e-3)
    return {"accuracy": float(learn.recorder.values[-1][2]), "n_valid": len(dls.valid_ds)}


DIGITS_EPOCHS = 8


def foreground_dice(pred: torch.Tensor, targ: torch.Tensor, n_classes: int) -> float:
    """Mean over the foreground classes (code 0 excluded) of 2|P∩T| / (|P| + |T|), over the whole set."""
    dices = []
    for c in range(1, n_classes):
        p, t = pred == c, targ == c
        dices.append(2 * (p & t).sum().item() / max(p.sum().item() + t.sum().item(), 1))
    return sum(dices) / len(dices)


SHAPES_N, SHAPES_EPOCHS = 200, 4


def train_shapes() -> dict:
    """The generated shapes at 64 px (`SHAPES_N` pictures, a fifth for validation), a U-Net on a resnet18 encoder
    from scratch: the foreground Dice of the validation predictions."""
    torch.manual_seed(0)
    path = shapes(n=SHAPES_N, size=64, seed=0)
    dls = SegmentationDataLoaders.from_label_func(
        path, get_image_files(path / "images"), shapes_label, codes=SHAPES_CODES, bs=16, seed=0
    )
    learn = unet_learner(dls, "resnet18", pretrained=False)
    with learn.no_bar():
        learn.fit_one_cycle(SHAPES_EPOCHS, 3e-3)
        preds, targs = learn.get_preds()
    return {"dice": foreground_dice(preds.argmax(1), targs, len(SHAPES_CODES)), "n_valid": len(dls.valid_ds)}


def run_timed(name: str, tiers_home) -> dict:
    """Run `train_<name>` in a fresh interpreter on 2 threads; its result with `cpu_s` and `wall_s`."""
    env = {**os.environ, "OMP_WAIT_POLICY": "passive", "TIERS_HOME": str(tiers_home / "tiers")}
    out = subprocess.run(
        [sys.executable, __file__, name], env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{name}: {result}")
    return result


@pytest.mark.slow
@pytest.mark.acceptance
def test_digits_from_scratch_reach_97_percent(tiers_home):
    r = run_timed("digits", tiers_home)
    assert r["n_valid"] == 359  # a fifth of the 1,797 digits
    assert r["accuracy"] >= 0.97
    assert r["cpu_s"] <= CPU_SECONDS, r
    assert not _TIMED or r["wall_s"] <= WALL_SECONDS, r


@pytest.mark.slow
@pytest.mark.acceptance
def test_unet_on_shapes_reaches_dice_90(tiers_home):
    r = run_timed("shapes", tiers_home)
    assert r["n_valid"] == SHAPES_N // 5
    assert r["dice"] >= 0.90
    assert r["cpu_s"] <= CPU_SECONDS, r
    assert not _TIMED or r["wall_s"] <= WALL_SECONDS, r


def test_foreground_dice_by_hand():
    pred = torch.tensor([[0, 1, 1], [2, 2, 0]])
    targ = torch.tensor([[0, 1, 0], [2, 0, 0]])
    # class 1: |P∩T| = 1, |P| + |T| = 3; class 2: 1 and 3
    assert foreground_dice(pred, targ, 3) == pytest.approx(2 / 3)


if __name__ == "__main__":  # `python test_acceptance.py digits|shapes`: one timed training, a JSON line out
    torch.set_num_threads(2)
    wall, cpu = time.perf_counter(), time.process_time()
    result = {"digits": train_digits, "shapes": train_shapes}[sys.argv[1]]()
    result.update(cpu_s=round(time.process_time() - cpu, 1), wall_s=round(time.perf_counter() - wall, 1))
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))
