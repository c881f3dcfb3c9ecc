import pandas as pd

from apps_tabular import cont_cat_split


def test_cont_cat_split_by_dtype_and_cardinality():
    df = pd.DataFrame(
        {
            "age": [20.5, 30.0, 41.0],
            "zip": list(range(3)),
            "big": [1, 2, 3],
            "city": ["a", "b", "a"],
            "y": [0.1, 0.2, 0.3],
        }
    )
    assert cont_cat_split(df, max_card=2, dep_var="y") == (["age", "zip", "big"], ["city"])
    assert cont_cat_split(df, max_card=20, dep_var="y") == (["age"], ["zip", "big", "city"])


def test_df_shrink_dtypes_and_values_survive():
    import numpy as np

    from apps_tabular import df_shrink

    df = pd.DataFrame(
        {
            "small": [1, 2, 300],
            "neg": [-5, 0, 5],
            "big": [0, 1, 2**40],
            "f": [1.5, 2.25, None],
            "s": ["x", "y", "x"],
            "cat": pd.Categorical(["a", "b", "a"]),
            "flag": [True, False, True],
            "when": pd.to_datetime(["2020-01-01", "2021-06-30", None]),
        }
    )
    out = df_shrink(df)
    assert out.dtypes.to_dict() == {
        "small": np.dtype("int16"),
        "neg": np.dtype("int8"),
        "big": np.dtype("int64"),
        "f": np.dtype("float32"),
        "s": pd.CategoricalDtype(["x", "y"]),
        "cat": df["cat"].dtype,
        "flag": np.dtype(bool),
        "when": df["when"].dtype,
    }
    for c in df.columns:  # every value survives (these floats are exact in float32)
        pd.testing.assert_series_equal(out[c].astype(df[c].dtype), df[c])
    assert df_shrink(df, int2uint=True)["small"].dtype == np.dtype("uint16")
    assert df_shrink(df, skip=["small"], obj2cat=False)["small"].dtype == df["small"].dtype
    assert df_shrink(df, obj2cat=False)["s"].dtype == df["s"].dtype


def test_add_datepart_matches_hand_values():
    from apps_tabular import add_datepart

    df = pd.DataFrame({"saledate": pd.to_datetime(["2020-03-31", None]), "x": [1, 2]})
    out = add_datepart(df, "saledate")
    assert "saledate" not in out.columns and "saledate" in df.columns  # a new frame
    row = out.iloc[0]
    assert (row["saleYear"], row["saleMonth"], row["saleWeek"], row["saleDay"]) == (2020, 3, 14, 31)
    assert (row["saleDayofweek"], row["saleDayofyear"]) == (1, 91)
    assert bool(row["saleIs_month_end"]) and bool(row["saleIs_quarter_end"]) and not bool(row["saleIs_year_end"])
    assert row["saleElapsed"] == 1585612800  # seconds from 1970-01-01 to 2020-03-31
    assert pd.isna(out["saleElapsed"].iloc[1])


def test_add_elapsed_times_days_to_events_per_group():
    from apps_tabular import add_elapsed_times

    df = pd.DataFrame(
        {
            "store": [1, 1, 1, 1, 2, 2],
            "date": pd.to_datetime(
                ["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-05", "2020-01-01", "2020-01-03"]
            ),
            "hol": [0, 1, 0, 0, 0, 1],
        }
    )
    out = add_elapsed_times(df, ["hol"], "date", "store")
    assert out["Afterhol"].tolist() == [0, 0, 2, 3, 0, 0]  # days since the last holiday (0: none yet)
    assert out["Beforehol"].tolist() == [-1, 0, 0, 0, -2, 0]  # days to the next one (0: none left)
    assert out["hol_bw"].tolist() == [0, 1, 1, 1, 0, 1]  # holidays in the 7 rows up to each row
    assert out["hol_fw"].tolist() == [1, 1, 0, 0, 1, 1]
