import numpy as np
import pandas as pd
import pytest
import torch

from apps_tabular import (
    Categorify,
    FillMissing,
    Normalize,
    TabularDataLoaders,
    TabularLearner,
    tabular_learner,
)
from datablock import MultiCategoryBlock
from trainloop_callbacks import BCEWithLogitsLossFlat, CrossEntropyLossFlat, MSELossFlat
from trainloop_callbacks.metrics import accuracy

PROCS = [Categorify, FillMissing, Normalize]


def planted(n=600, seed=0):
    """`label` is decided by `color` alone; `noise` carries nothing."""
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame(
        {
            "color": color,
            "noise": rng.normal(size=n),
            "size": rng.normal(size=n),
            "label": np.where(color == "red", "yes", "no"),
            "value": np.where(color == "red", 3.0, 1.0) + 0.5 * rng.normal(size=n),
        }
    )


def dls_of(df, y="label", **kw):
    torch.manual_seed(0)
    return TabularDataLoaders.from_df(
        df, procs=PROCS, cat_names=["color"], cont_names=["noise", "size"], y_names=y, bs=32, **kw
    )


@pytest.fixture(scope="module")
def trained():
    df = planted()
    learn = tabular_learner(dls_of(df), layers=[16], metrics=accuracy)
    with learn.no_bar():
        learn.fit_one_cycle(5, 3e-2)
    return df, learn


def test_classifier_learns_planted_rule_and_predicts_a_row(trained):
    df, learn = trained
    assert isinstance(learn, TabularLearner) and isinstance(learn.loss_func, CrossEntropyLossFlat)
    assert learn.validate()[1] > 0.95
    row = df.iloc[3]
    full, clas, probs = learn.predict(row)
    assert full["color"] == row["color"] and full["label"] == ("yes" if row["color"] == "red" else "no")
    assert full["noise"] == pytest.approx(row["noise"], abs=1e-4)  # the row decoded back to its values
    assert learn.dls.vocab[int(clas)] == full["label"]
    # the probabilities are the model's softmax on the row processed by the fitted procs
    cats, conts = learn.dls.test_dl(df.iloc[[3]]).one_batch()
    learn.model.eval()
    expected = torch.softmax(learn.model(cats, conts), 1)[0]
    assert torch.allclose(probs, expected, atol=1e-6)


def test_unseen_category_predicts_without_error(trained):
    df, learn = trained
    row = df.iloc[0].copy()
    row["color"] = "purple"
    full, _, probs = learn.predict(row)
    assert pd.isna(full["color"]) and probs.sum().item() == pytest.approx(1.0)


def test_show_results_is_a_table(trained):
    _, learn = trained
    res = learn.show_results(max_n=5)
    assert isinstance(res, pd.DataFrame) and len(res) == 5
    assert {"label", "label_pred", "color"} <= set(res.columns)


def test_feature_importance_finds_the_planted_column(trained):
    _, learn = trained
    imp = learn.feature_importance()
    assert imp.index[0] == "color" and imp["color"] > 0.2
    assert abs(imp["noise"]) < 0.1 * imp["color"]
    acc = learn.feature_importance(metric=accuracy, higher_is_better=True)
    assert acc.index[0] == "color" and acc["color"] > 0.2  # shuffling colors costs accuracy


def test_regression_with_y_range_and_multi_target():
    df = planted(200)
    learn = tabular_learner(dls_of(df, y="value"), layers=[8], y_range=(0, 5))
    assert isinstance(learn.loss_func, MSELossFlat)
    with learn.no_bar():
        learn.fit(1)
    full, pred, _ = learn.predict(df.iloc[0])
    assert 0 < float(full["value"]) < 5 and pred.shape == (1,)
    multi = tabular_learner(dls_of(df.assign(v2=df["value"] * 2), y=["value", "v2"]), layers=[8])
    assert multi.model(*multi.dls.one_batch()[:2]).shape == (32, 2)
    labels = df.assign(a=(df["color"] == "red") * 1.0, b=(df["color"] == "blue") * 1.0)
    ml = tabular_learner(dls_of(labels, y=["a", "b"], y_block=MultiCategoryBlock(encoded=True, vocab=["a", "b"])))
    assert isinstance(ml.loss_func, BCEWithLogitsLossFlat)
    with ml.no_bar():
        ml.fit(1)
    _, dec, probs = ml.predict(labels.iloc[0])
    assert dec.dtype == torch.bool and probs.shape == (2,)
