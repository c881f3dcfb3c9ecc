"""Quickstart recipe: a dot-product recommender on the generated ratings that ship with apps-tabular (users and
items with planted factors), checked against the planted truth."""

from __future__ import annotations

from pathlib import Path

import torch

from apps_tabular import CollabDataLoaders, EmbeddingDotBias, collab_learner, synthetic_ratings
from tiers.quickstart.common import Quickstart, QuickstartResult, epoch_log, save_picture, scatter_picture

__all__ = ["QUICKSTART", "train"]

N_FACTORS = 2  # the planted rank: apps-tabular's acceptance test recovers the item biases with it
LR = 2e-2


def train(out: Path, epochs: int, device: torch.device) -> QuickstartResult:
    """Fit `collab_learner`, compare the learned item biases with the planted ones, export."""
    truth = synthetic_ratings()
    ratings = truth.ratings
    dls = CollabDataLoaders.from_df(ratings, bs=1024, device=device)
    files = {"show_batch": save_picture(dls.show_batch(max_n=12), out / "show_batch.png", "a training batch")}
    torch.manual_seed(0)
    learn = collab_learner(dls, n_factors=N_FACTORS, y_range=(-0.5, 7.5), path=out)
    learn.model.to(device)
    learn.fit_one_cycle(epochs, LR, wd=0.1)
    results = learn.show_results(max_n=12)
    files["show_results"] = save_picture(results, out / "show_results.png", "validation ratings and predictions")
    items = [f"i{k}" for k in range(len(truth.item_bias))]  # the generator names item k "i<k>"
    dot_bias = learn.model
    if not isinstance(dot_bias, EmbeddingDotBias):
        raise TypeError(f"collab quickstart: expected an EmbeddingDotBias model, got {type(dot_bias).__name__}")
    learned = dot_bias.bias(items).detach().cpu().float()
    planted = torch.as_tensor(truth.item_bias, dtype=torch.float32)
    corr = float(torch.corrcoef(torch.stack([learned, planted]))[0, 1])
    files["item_biases"] = scatter_picture(
        planted.tolist(), learned.tolist(), out / "item_biases.png", "planted item bias", "learned item bias"
    )
    model = learn.export(out / "model.pth")
    pairs = out / "pairs.csv"  # (user, item) pairs to try `tiers predict` on
    ratings.iloc[:5, :2].to_csv(pairs, index=False)
    files["pairs"] = pairs
    log = epoch_log(learn)
    return QuickstartResult(
        app="collab",
        metric="valid_mse",
        value=float(log[-1]["valid_loss"] or 0.0),
        goal=None,
        epochs=log,
        files=files,
        model=model,
        predict_inputs=[str(pairs)],
        percent=False,
        extra={"noise_floor_mse": float(truth.noise_floor), "item_bias_correlation": corr},
    )


QUICKSTART = Quickstart(
    app="collab",
    what="a dot-product recommender on the shipped, generated ratings (1,000 users x 500 items)",
    default_epochs=15,
    recipe=train,
)
