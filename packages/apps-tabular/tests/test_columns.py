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
