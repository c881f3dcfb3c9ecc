import json

import numpy as np
import pandas as pd
import pytest
import torch

from apps_tabular import Categorify, FillMissing, Normalize, TabularDataLoader, TabularDataLoaders

PROCS = [Categorify, FillMissing, Normalize]


def frame(n=100, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "age": rng.normal(40, 10, n),
            "label": rng.choice(["no", "yes"], n),
        }
    )
    df["row"] = np.arange(n, dtype=np.float64)  # a continuous column that names the row
    df.loc[::7, "age"] = np.nan
    return df


def dls_of(df, **kw):
    return TabularDataLoaders.from_df(
        df, procs=PROCS, cat_names="city", cont_names=["age", "row"], y_names="label", **kw
    )


def test_batches_are_gathers_of_two_tensors_without_pandas():
    dls = dls_of(frame(), bs=16, valid_idx=range(80, 100))
    assert isinstance(dls.train, TabularDataLoader) and dls.n_inp == 2
    dls.tabular.items = None  # no DataFrame left: iterating must not need one
    seen = []
    for cats, conts, y in dls.train:
        assert cats.dtype == torch.int64 and cats.shape == (16, 2)
        assert conts.dtype == torch.float32 and y.dtype == torch.int64
        seen.append(conts[:, 1])
    rows = torch.cat(seen)
    assert len(rows) == 80 and len(rows.unique()) == 80  # each training row once (drop_last: 80 = 5 x 16)
    valid = torch.cat([b[1][:, 1] for b in dls.valid])
    assert torch.all(valid[1:] > valid[:-1])  # validation in order


def test_shuffle_changes_order_each_epoch_and_is_seeded():
    g = torch.Generator().manual_seed(0)
    dls = dls_of(frame(), bs=80, valid_idx=range(80, 100), generator=g)
    a, b = (next(iter(dls.train))[1][:, 1] for _ in range(2))
    assert not torch.equal(a, b) and torch.equal(a.sort().values, b.sort().values)


def test_protocol_members():
    df = frame()
    dls = dls_of(df, bs=8)
    assert dls.c == 2 and list(dls.vocab) == ["no", "yes"]
    assert dls.loss_kind == {"kind": "cross_entropy", "axis": -1}
    assert dls.cat_names == ["city", "age_na"] and dls.cont_names == ["age", "row"]
    shown = dls.show_batch(max_n=5)
    assert isinstance(shown, pd.DataFrame) and len(shown) == 5
    b = dls.one_batch()
    rows = dls.decode_batch(b, max_n=3)
    for r in rows:  # the decoded row is the original row
        orig = df.iloc[round(r["row"])]
        assert r["city"] == orig["city"] and r["label"] == orig["label"]
    res = dls.valid.show_results(b, b[2], max_n=4)
    assert (res["label"] == res["label_pred"]).all()


def test_test_dl_uses_fitted_procs_with_unseen_categories():
    df = frame()
    dls = dls_of(df, bs=8)
    test = pd.DataFrame({"city": ["rome", "atlantis"], "age": [np.nan, 30.0], "row": [0.0, 1.0]})
    cats, conts = dls.test_dl(test).one_batch()
    vocab = dls.tabular.classes["city"]
    assert cats[:, 0].tolist() == [vocab.index("rome"), 0]
    assert cats[:, 1].tolist() == [2, 1]  # age_na: True, False
    norm = dls.tabular.procs[-1]
    fill = dls.tabular.procs[0].fill_vals["age"]
    assert conts[0, 0].item() == pytest.approx((fill - norm.means["age"]) / norm.stds["age"], abs=1e-5)
    one = dls.test_dl(test.iloc[0]).one_batch()  # a single row (a Series) works too
    assert torch.equal(one[0], cats[:1])


def test_from_csv_and_config_round_trip(tmp_path):
    df = frame()
    df.to_csv(tmp_path / "t.csv", index=False)
    dls = TabularDataLoaders.from_csv(
        tmp_path / "t.csv", procs=PROCS, cat_names="city", cont_names=["age", "row"], y_names="label", bs=8
    )
    cfg = json.loads(json.dumps(dls.to_config()))
    again = TabularDataLoaders.from_config(cfg)
    test = df.drop(columns="label").iloc[:5]
    for x, y in zip(dls.test_dl(test).one_batch(), again.test_dl(test).one_batch(), strict=True):
        assert torch.equal(x, y)
    assert list(again.vocab) == ["no", "yes"]


def test_new_keeps_the_class():
    dls = dls_of(frame(), bs=8)
    assert isinstance(dls.train.new(bs=4), TabularDataLoader) and dls.train.new(bs=4).bs == 4
