"""Quickstart recipe: predict the `salary` class of a generated census-like table that ships with apps-tabular
(categorical and continuous columns, missing values), with fastai's tabular MLP."""

from __future__ import annotations

from pathlib import Path

import torch

from apps_tabular import (
    Categorify,
    FillMissing,
    Normalize,
    TabularDataLoader,
    TabularDataLoaders,
    synthetic_census,
    tabular_learner,
)
from tiers.quickstart.common import Quickstart, QuickstartResult, epoch_log, save_picture
from trainloop_callbacks import ClassificationInterpretation
from trainloop_callbacks.metrics import accuracy

__all__ = ["QUICKSTART", "CAT_NAMES", "CONT_NAMES", "train"]

CAT_NAMES = ["workclass", "education", "marital_status", "occupation"]
CONT_NAMES = ["age", "education_num", "hours_per_week", "capital_gain"]
Y_NAME = "salary"


def train(out: Path, epochs: int, device: torch.device) -> QuickstartResult:
    """The four lines of the README, plus the tables as pictures, the confusion matrix and the export."""
    df = synthetic_census()
    dls = TabularDataLoaders.from_df(
        df,
        y_names=Y_NAME,
        cat_names=CAT_NAMES,
        cont_names=CONT_NAMES,
        procs=[Categorify, FillMissing, Normalize],
        bs=64,
        device=device,
    )
    files = {"show_batch": save_picture(dls.show_batch(max_n=12), out / "show_batch.png", "a training batch")}
    torch.manual_seed(0)
    learn = tabular_learner(dls, metrics=accuracy, path=out)
    learn.model.to(device)
    learn.fit_one_cycle(epochs)
    results = learn.show_results(max_n=12)
    files["show_results"] = save_picture(results, out / "show_results.png", "validation rows: target and prediction")
    files["confusion_matrix"] = out / "confusion_matrix.png"
    ClassificationInterpretation.from_learner(learn).plot_confusion_matrix(files["confusion_matrix"])
    model = learn.export(out / "model.pth")
    rows = out / "rows.csv"  # rows to try `tiers predict` on: validation rows without their target
    valid = dls.valid
    if not isinstance(valid, TabularDataLoader):
        raise TypeError(f"tabular quickstart: expected a TabularDataLoader, got {type(valid).__name__}")
    df.iloc[list(valid.tabular.items.index[:5])].drop(columns=[Y_NAME]).to_csv(rows, index=False)
    files["rows"] = rows
    log = epoch_log(learn)
    return QuickstartResult(
        app="tabular",
        metric="accuracy",
        value=float(log[-1]["accuracy"] or 0.0),
        goal=None,  # the table's labels are noisy: about 85% is the best any model can reach
        epochs=log,
        files=files,
        model=model,
        predict_inputs=[str(rows)],
    )


QUICKSTART = Quickstart(
    app="tabular",
    what="a salary classifier (tabular MLP) on the shipped, generated census table",
    default_epochs=5,
    recipe=train,
)
