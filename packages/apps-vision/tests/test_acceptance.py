"""The issue's acceptance: the four-line example, and the two trainings on the data that ship (slow)."""

import os
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

# The time limits of the acceptance (3 minutes on 2 CPU cores) hold on an idle machine; on a shared, loaded
# one they do not, so they are asserted only when TIERS_ASSERT_TIMING=1. The quality thresholds always are.
_TIMED = os.environ.get("TIERS_ASSERT_TIMING") == "1"


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


@pytest.mark.slow
@pytest.mark.acceptance
def test_digits_from_scratch_reach_97_percent(tiers_home):
    torch.manual_seed(0)
    start = time.perf_counter()
    dls = ImageDataLoaders.from_folder(digits(), valid_pct=0.2, seed=0, item_tfms=Resize(32), bs=64)
    learn = vision_learner(dls, "resnet18", pretrained=False, metrics=accuracy)
    with learn.no_bar():
        learn.fit_one_cycle(8, 5e-3)
    elapsed = time.perf_counter() - start
    acc = learn.recorder.values[-1][2]
    print(f"digits: accuracy {acc:.4f} in {elapsed:.0f} s")
    assert acc >= 0.97
    assert not _TIMED or elapsed <= 180


def _foreground_dice(pred, targ, n_classes):
    """Mean over the foreground classes (code 0 excluded) of 2|P∩T| / (|P| + |T|), over the whole set."""
    dices = []
    for c in range(1, n_classes):
        p, t = pred == c, targ == c
        dices.append(2 * (p & t).sum().item() / max(p.sum().item() + t.sum().item(), 1))
    return sum(dices) / len(dices)


@pytest.mark.slow
@pytest.mark.acceptance
def test_unet_on_shapes_reaches_dice_90(tiers_home):
    torch.manual_seed(0)
    start = time.perf_counter()
    path = shapes(n=200, size=64, seed=0)
    dls = SegmentationDataLoaders.from_label_func(
        path, get_image_files(path / "images"), shapes_label, codes=SHAPES_CODES, bs=16, seed=0
    )
    learn = unet_learner(dls, "resnet18", pretrained=False)
    with learn.no_bar():
        learn.fit_one_cycle(10, 1e-2)
        preds, targs = learn.get_preds()
    elapsed = time.perf_counter() - start
    dice = _foreground_dice(preds.argmax(1), targs, len(SHAPES_CODES))
    print(f"shapes: foreground Dice {dice:.4f} in {elapsed:.0f} s")
    assert dice >= 0.90
    assert not _TIMED or elapsed <= 180
