import json

import numpy as np
import pandas as pd
import pytest

from apps_tabular import NA, RARE, Categorify, FillMissing, TabularNormalize, TabularProc
from apps_tabular.procs import proc_from_config


def frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "city": rng.choice(["paris", "rome", "oslo", "lima"], n),
            "size": rng.integers(1, 4, n),
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(3, 1, n),
        }
    )
    df.loc[::9, "age"] = np.nan
    return df


def test_categorify_vocab_codes_and_unseen_policy():
    df = pd.DataFrame({"c": ["b", "a", "b", None, "c"]})
    before = df.copy()
    cat = Categorify().fit(df)
    assert cat.classes == {"c": [NA, "a", "b", "c"]}
    out = cat.transform(pd.DataFrame({"c": ["a", "c", "zzz", None]}))
    assert out["c"].tolist() == [1, 3, 0, 0]  # unseen and missing share #na#
    pd.testing.assert_frame_equal(df, before)  # input untouched


def test_categorify_rare_policy():
    df = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 5 + ["r1", "r2"]})
    cat = Categorify(min_freq=2).fit(df)
    assert cat.classes["c"] == [NA, RARE, "a", "b"]
    codes = cat.transform(pd.DataFrame({"c": ["a", "r1", "r2", "new"]}))["c"].tolist()
    assert codes == [2, 1, 1, 0]  # rare seen in training -> #rare#; never seen -> #na#
    back = cat.inverse_transform(pd.DataFrame({"c": [2, 1, 0]}))["c"]
    assert back.tolist()[:2] == ["a", RARE] and pd.isna(back[2])  # #na# decodes to missing


def test_categorify_keeps_declared_categorical_order_and_aligns_dtypes():
    s = pd.Categorical(["lo", "hi", "mid"], categories=["lo", "mid", "hi"], ordered=True)
    cat = Categorify().fit(pd.DataFrame({"c": s}))
    assert cat.classes["c"] == [NA, "lo", "mid", "hi"]
    num = Categorify().fit(pd.DataFrame({"n": [3, 1, 2]}))
    # the same numbers read back as text (e.g. from a CSV of strings) find their categories
    assert num.transform(pd.DataFrame({"n": ["3", "1", "x"]}))["n"].tolist() == [3, 1, 0]


def test_categorify_inverse_round_trip():
    df = frame()
    cat = Categorify(["city", "size"]).fit(df)
    back = cat.inverse_transform(cat.transform(df))
    pd.testing.assert_series_equal(back["city"].astype(object), df["city"].astype(object), check_names=False)
    assert back["size"].tolist() == df["size"].tolist()
    assert cat.get_feature_names_out() == ["city", "size"]


def test_fill_missing_strategies_indicator_and_round_trip():
    df = pd.DataFrame({"x": [1.0, np.nan, 3.0, 10.0], "y": [1.0, 2.0, 2.0, 5.0]})
    fm = FillMissing().fit(df)
    assert fm.fill_vals == {"x": 3.0, "y": 2.0} and fm.na_cols == ["x"]
    out = fm.transform(df)
    assert out["x"].tolist() == [1.0, 3.0, 3.0, 10.0] and out["x_na"].tolist() == [False, True, False, False]
    assert fm.get_feature_names_out() == ["x", "y", "x_na"]
    back = fm.inverse_transform(out)
    pd.testing.assert_frame_equal(back, df)
    assert FillMissing(fill_strategy="mode").fit(df).fill_vals["y"] == 2.0
    assert FillMissing(fill_strategy="constant", fill_val=-1).fit(df).transform(df)["x"][1] == -1
    # a column complete in training but missing at inference is filled, with no indicator
    new = fm.transform(pd.DataFrame({"x": [np.nan], "y": [np.nan]}))
    assert new["y"].tolist() == [2.0] and "y_na" not in new


def test_fill_missing_refuses_bad_input():
    with pytest.raises(ValueError, match="fill_strategy"):
        FillMissing(fill_strategy="mean")
    with pytest.raises(TypeError, match="not numeric"):
        FillMissing().fit(pd.DataFrame({"s": ["a", "b"]}))
    with pytest.raises(RuntimeError, match="fit"):
        FillMissing().transform(pd.DataFrame({"x": [1.0]}))


def test_normalize_stats_and_round_trip():
    df = frame()[["income"]]
    nm = TabularNormalize().fit(df)
    v = df["income"].to_numpy()
    assert nm.means["income"] == pytest.approx(v.mean())
    assert nm.stds["income"] == pytest.approx(v.std(ddof=0) + 1e-7)
    out = nm.transform(df)
    assert out["income"].dtype == np.float32
    assert abs(out["income"].mean()) < 1e-5 and out["income"].std(ddof=0) == pytest.approx(1, abs=1e-5)
    back = nm.inverse_transform(out)
    np.testing.assert_allclose(back["income"], v, rtol=1e-5)  # float32 in between


@pytest.mark.parametrize("proc", [Categorify(["city"], min_freq=3), FillMissing(["age"]), TabularNormalize(["age"])])
def test_state_is_plain_data(proc):
    df = frame()
    proc.fit(df)
    cfg = json.loads(json.dumps(proc.to_config()))  # JSON proves it is plain data
    again = proc_from_config(cfg)
    pd.testing.assert_frame_equal(again.transform(df), proc.transform(df))


def test_from_config_refuses_unknown_proc():
    with pytest.raises(ValueError, match="unknown proc"):
        proc_from_config({"type": "os.system"})


@pytest.mark.parametrize("min_freq", [1, 3])
def test_one_pass_path_equals_fit_then_transform(min_freq):
    """TabularPandas fits and applies Categorify in one hashing pass; it must equal fit(train).transform(all)."""
    rng = np.random.default_rng(3)
    n = 300
    df = pd.DataFrame({"c": rng.choice(list("abcdefgh"), n), "n": rng.integers(0, 40, n), "b": rng.random(n) > 0.5})
    df.loc[250:, "c"] = "only-in-valid"
    df.loc[::17, "c"] = None
    rows = np.arange(250)
    ref = Categorify(["c", "n", "b"], min_freq=min_freq).fit(df.iloc[rows])
    one = Categorify(["c", "n", "b"], min_freq=min_freq)
    out = df.copy()
    one._fit_apply(out, rows)
    assert one.to_config() == ref.to_config()
    pd.testing.assert_frame_equal(out, ref.transform(df))


def test_normalize_round_trip_restores_integer_columns():
    """float32 scaling turns an integer 0 into about 1e-5; the inverse rounds back to the training int dtype."""
    df = pd.DataFrame({"n": np.arange(0, 50, dtype=np.int64), "m": np.arange(50, dtype=np.int16) * 7 - 100})
    nm = TabularNormalize().fit(df)
    assert nm.int_dtypes == {"n": "int64", "m": "int16"}
    back = nm.inverse_transform(nm.transform(df))
    pd.testing.assert_frame_equal(back, df)  # exact values and dtypes, not 1.4e-05 for 0
    # a value the training dtype cannot hold stays a float (no silent wrap-around), as does a missing one
    out = nm.inverse_transform(nm.transform(pd.DataFrame({"n": [0, 10], "m": [40_000.0, np.nan]})))
    assert out["n"].dtype == np.int64 and out["n"].tolist() == [0, 10]
    assert out["m"].dtype == np.float64 and out["m"].iloc[0] == pytest.approx(40_000) and np.isnan(out["m"].iloc[1])
    # the dtype is state (plain data); a config naming a non-integer dtype is refused
    cfg = json.loads(json.dumps(nm.to_config()))
    assert proc_from_config(cfg).int_dtypes == nm.int_dtypes
    with pytest.raises(ValueError, match="not an integer dtype"):
        proc_from_config({**cfg, "int_dtypes": {"n": "float64"}})


def test_fill_missing_and_normalize_restore_a_nullable_integer_column():
    df = pd.DataFrame({"k": pd.array([0, None, 2, 3, 4, 5, None, 8, 9], dtype="Int64")})
    fm = FillMissing().fit(df)
    assert fm.fill_vals == {"k": 4.0}
    nm = TabularNormalize(["k"]).fit(fm.transform(df))
    back = fm.inverse_transform(nm.inverse_transform(nm.transform(fm.transform(df))))
    pd.testing.assert_frame_equal(back, df)  # Int64 with <NA> where the values were missing
    # a fill value the integer dtype cannot hold (median 3.5) makes the column float rather than failing
    half = pd.DataFrame({"k": pd.array([1, None, 3, 4, 6], dtype="Int64")})
    assert FillMissing().fit_transform(half)["k"].tolist() == [1.0, 3.5, 3.0, 4.0, 6.0]


def test_proc_base_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        TabularProc()

    class NoInvert(TabularProc):
        def _state(self):
            return {}

        def _load_state(self, cfg):
            pass

        def _fit(self, df, rows):
            pass

        def _apply(self, df):
            pass

    with pytest.raises(TypeError, match="_invert"):
        NoInvert()
