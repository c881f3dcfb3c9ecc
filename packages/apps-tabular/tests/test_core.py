import json

import numpy as np
import pandas as pd
import pytest
import torch

from apps_tabular import Categorify, FillMissing, Normalize, TabularNormalize, TabularPandas
from apps_tabular.core import DEFAULT_SEED
from datablock import CategoryBlock, MultiCategoryBlock, RandomSplitter, RegressionBlock

PROCS = [Categorify, FillMissing, Normalize]


def frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "kids": rng.integers(0, 3, n),
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(3, 1, n),
            "label": rng.choice(["no", "yes"], n),
            "amount": rng.normal(size=n),
            "count": rng.integers(0, 10, n),
        }
    )
    df.loc[::11, "age"] = np.nan
    df.loc[::13, "city"] = None
    return df


def tab(df, **kw):
    args = dict(procs=PROCS, cat_names=["city", "kids"], cont_names=["age", "income"], y_names="label")
    return TabularPandas(df, **{**args, **kw})


def test_procs_fitted_on_training_rows_only():
    """No leakage: changing validation rows (even wildly) changes no learned state."""
    df = frame()
    tr, va = np.arange(200), np.arange(200, 300)
    a = tab(df, splits=(tr, va))
    poisoned = df.copy()
    poisoned.loc[200:, "income"] = 1e9
    poisoned.loc[200:, "age"] = np.nan
    poisoned.loc[200:, "city"] = "atlantis"
    b = tab(poisoned, splits=(tr, va))
    assert [p.to_config() for p in a.procs] == [p.to_config() for p in b.procs]
    norm = next(p for p in a.procs if isinstance(p, TabularNormalize))
    filled = df["age"].iloc[:200].fillna(df["age"].iloc[:200].median())
    assert norm.means["age"] == pytest.approx(filled.mean())  # mean of training rows after filling
    assert norm.means["income"] == pytest.approx(df["income"].iloc[:200].mean())
    # the unseen validation city is #na#, not a new class
    assert (b.items["city"].iloc[200:] == 0).all() and "atlantis" not in b.classes["city"]


def test_default_split_is_seeded_20_percent_and_input_untouched():
    df = frame()
    before = df.copy()
    to = tab(df)
    tr, va = to.splits
    assert len(va) == 60 and len(tr) == 240
    exp_tr, exp_va = RandomSplitter(0.2, seed=DEFAULT_SEED)(range(300))
    assert sorted(va.tolist()) == sorted(exp_va) and sorted(tr.tolist()) == sorted(exp_tr)
    pd.testing.assert_frame_equal(df, before)
    assert tab(df).splits[1].tolist() == va.tolist()


def test_tensors_dtypes_and_na_indicator():
    to = tab(frame())
    assert to.cat_names == ["city", "kids", "age_na"]
    cats, conts, ys = to.train.tensors
    assert cats.dtype == torch.int64 and cats.shape == (240, 3)
    assert conts.dtype == torch.float32 and conts.shape == (240, 2)
    assert ys.dtype == torch.int64 and set(ys.tolist()) <= {0, 1}
    assert to.classes["age_na"] == ["#na#", False, True]
    assert to.c == 2 and list(to.vocab) == ["no", "yes"] and to.loss_kind == {"kind": "cross_entropy", "axis": -1}


def test_decode_round_trips_the_frame():
    df = frame()
    to = tab(df, splits=(np.arange(300), np.arange(0)))
    back = to.decode()
    for c in ["kids", "label"]:
        assert back[c].tolist() == df[c].tolist()
    assert back["city"].isna().tolist() == df["city"].isna().tolist()
    assert back["city"].dropna().tolist() == df["city"].dropna().tolist()
    np.testing.assert_allclose(back["age"], df["age"], rtol=1e-5)  # NaN back where it was
    assert isinstance(to.show(3), pd.DataFrame) and len(to.show(3)) == 3
    # an integer continuous column comes back exactly, in its dtype (float32 scaling alone gives 1.4e-05 for 0)
    ints = tab(df, cont_names=["age", "count"], splits=(np.arange(200), np.arange(200, 300))).decode()
    assert ints["count"].dtype == df["count"].dtype and ints["count"].tolist() == df["count"].tolist()


def test_target_kinds():
    df = frame()
    with pytest.raises(ValueError, match=r"integers.*y_block"):
        tab(df, y_names="count")
    assert tab(df, y_names="count", y_block=CategoryBlock).c == 10
    reg = tab(df, y_names="count", y_block=RegressionBlock())
    assert reg.loss_kind["kind"] == "mse" and reg.train.tensors[2].dtype == torch.float32
    assert tab(df, y_names="amount").loss_kind["kind"] == "mse"
    multi = tab(df.assign(a=1.0, b=0.0), y_names=["a", "b"], y_block=MultiCategoryBlock(encoded=True, vocab=["a", "b"]))
    assert multi.loss_kind["kind"] == "bce" and multi.c == 2 and multi.train.tensors[2].shape == (240, 2)
    two = tab(df, y_names=["amount", "income"], cont_names=["age"])
    assert two.c == 2 and two.train.tensors[2].shape == (240, 2)


def test_refuses_bad_input():
    df = frame()
    with pytest.raises(KeyError, match="nope"):
        tab(df, cat_names=["nope"])
    with pytest.raises(ValueError, match="both"):
        tab(df, splits=([0, 1, 2], [2, 3]))
    with pytest.raises(TypeError, match="Categorify"):
        TabularPandas(df, [FillMissing], cat_names=["city"], cont_names=["age"], y_names="label")
    with pytest.raises(KeyError, match="not in the vocab"):
        tab(df.assign(label=["no"] * 200 + ["maybe"] * 100), splits=(np.arange(200), np.arange(200, 300)))


def test_new_applies_fitted_procs_and_config_is_plain():
    df = frame()
    to = tab(df)
    test = df.iloc[:4].copy()
    test["city"] = ["rome", "atlantis", None, "oslo"]
    new = to.new(test.drop(columns="label"))
    assert new.items["city"].tolist()[:3] == [to.classes["city"].index("rome"), 0, 0]
    assert len(new.tensors(with_labels=False)) == 2
    cfg = json.loads(json.dumps(to.to_config()))
    again = TabularPandas.from_config(cfg)
    a, b = to.new(test).tensors(), again.new(test).tensors()
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


def test_inplace_changes_the_frame():
    df = frame()
    tab(df, inplace=True)
    assert pd.api.types.is_integer_dtype(df["city"]) and "age_na" in df.columns
