"""Quickstart recipe: segment the generated shapes that ship with apps-vision (circles and squares on noise,
with their masks) with a U-Net on a resnet18 body trained from scratch."""

from __future__ import annotations

from pathlib import Path

import torch

from apps_vision import (
    SHAPES_CODES,
    SegmentationDataLoaders,
    SegmentationInterpretation,
    get_image_files,
    shapes,
    shapes_label,
    unet_learner,
)
from tiers.quickstart.common import Quickstart, QuickstartResult, epoch_log, save_picture
from trainloop_callbacks.metrics import foreground_acc

__all__ = ["QUICKSTART", "foreground_dice", "train"]

# apps-vision's acceptance settings (its test_acceptance.py reaches a foreground Dice >= 0.90 with them)
N_IMAGES, SIZE, BS, LR = 200, 64, 16, 1e-2
GOAL = 0.90


def foreground_dice(pred: torch.Tensor, targ: torch.Tensor, n_classes: int) -> float:
    """Mean over the foreground classes (code 0, the background, excluded) of 2|P∩T| / (|P| + |T|), pooled over
    every pixel of the set."""
    dices = []
    for c in range(1, n_classes):
        p, t = pred == c, targ == c
        dices.append(2 * (p & t).sum().item() / max(p.sum().item() + t.sum().item(), 1))
    return sum(dices) / len(dices)


def train(out: Path, epochs: int, device: torch.device) -> QuickstartResult:
    """Train, then measure the foreground Dice on the validation set, draw the worst masks and export."""
    path = shapes(n=N_IMAGES, size=SIZE, seed=0)
    dls = SegmentationDataLoaders.from_label_func(
        path, get_image_files(path / "images"), shapes_label, codes=SHAPES_CODES, bs=BS, seed=0, device=device
    )
    files = {"show_batch": save_picture(dls.show_batch(max_n=9, scale=2), out / "show_batch.png")}
    torch.manual_seed(0)
    learn = unet_learner(dls, "resnet18", pretrained=False, metrics=foreground_acc, path=out)
    learn.model.to(device)
    learn.fit_one_cycle(epochs, LR)
    files["show_results"] = save_picture(learn.show_results(max_n=6, scale=2), out / "show_results.png")
    interp = SegmentationInterpretation.from_learner(learn)  # the segmenter's confusion picture: its worst masks
    files["worst_masks"] = out / "worst_masks.png"
    interp.plot_top_losses(6, fname=files["worst_masks"])
    preds, targs = learn.get_preds()
    dice = foreground_dice(preds.argmax(1), targs, len(SHAPES_CODES))
    model = learn.export(out / "model.pth")
    log = epoch_log(learn)
    return QuickstartResult(
        app="segment",
        metric="foreground_dice",
        value=dice,
        goal=GOAL,
        epochs=log,
        files=files,
        model=model,
        predict_inputs=[str(p) for p in sorted(get_image_files(path / "images"))[:2]],
    )


QUICKSTART = Quickstart(
    app="segment",
    what="a U-Net (resnet18 body, from scratch) on 200 shipped, generated 64x64 shapes with their masks",
    default_epochs=6,
    recipe=train,
)
