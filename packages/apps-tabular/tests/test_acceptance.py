"""Issue acceptance: `tabular_learner` against scikit-learn's HistGradientBoostingClassifier on the shipped
table (mean over 3 seeds, the same split for both). scikit-learn is only a test dependency."""

import numpy as np
import pytest
import torch

from apps_tabular import Categorify, FillMissing, Normalize, TabularDataLoaders, synthetic_census, tabular_learner
from trainloop_callbacks.metrics import accuracy

CATS = ["workclass", "education", "marital_status", "occupation"]
CONTS = ["age", "education_num", "hours_per_week", "capital_gain"]


def tabular_accuracy(df, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    valid = rng.permutation(len(df))[: len(df) // 5]
    dls = TabularDataLoaders.from_df(
        df,
        y_names="salary",
        cat_names=CATS,
        cont_names=CONTS,
        procs=[Categorify, FillMissing, Normalize],
        valid_idx=valid,
        bs=128,
    )
    learn = tabular_learner(dls, metrics=accuracy)
    with learn.no_bar():
        learn.fit_one_cycle(5, 2e-2)
    return float(learn.validate()[1]), valid


def hgb_accuracy(df, valid):
    ensemble = pytest.importorskip("sklearn.ensemble")
    x = df[CATS + CONTS].copy()
    for c in CATS:
        x[c] = x[c].astype("category")
    y = df["salary"].to_numpy()
    train = np.setdiff1d(np.arange(len(df)), valid)
    model = ensemble.HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(x.iloc[train], y[train])
    return float((model.predict(x.iloc[valid]) == y[valid]).mean())


@pytest.mark.slow
def test_tabular_within_3_points_of_gradient_boosting():
    df = synthetic_census()
    ours, theirs = [], []
    for seed in range(3):
        acc, valid = tabular_accuracy(df, seed)
        ours.append(acc)
        theirs.append(hgb_accuracy(df, valid))
    print(f"tabular_learner {np.mean(ours):.4f} {ours}; HistGradientBoosting {np.mean(theirs):.4f} {theirs}")
    assert np.mean(ours) >= np.mean(theirs) - 0.03
