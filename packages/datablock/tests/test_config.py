import json
from pathlib import Path

import pandas as pd

from datablock import ColReader
from datablock.config import pipeline_from_config, pipeline_to_config, step_from_config, step_to_config
from dispatch_transforms import ItemTransform, Pipeline, Transform


def double(x: int) -> int:
    return x * 2


def halve(x: int) -> int:
    return x // 2


def swap(t: tuple) -> tuple:
    return (t[1], t[0])


def _json(o):
    return json.loads(json.dumps(o))


def test_plain_function_transform_is_written_as_its_function():
    step = step_to_config(Transform(double))
    assert step == {"function": f"{__name__}:double"}
    assert step_from_config(_json(step)) is double


def test_enc_dec_transform_round_trips_with_its_decode():
    again = step_from_config(_json(step_to_config(Transform(enc=double, dec=halve))))
    assert type(again) is Transform and again.enc is double and again.dec is halve
    assert again((3, 5)) == (6, 10)  # maps over tuples like the original
    assert again.decode(again(7)) == 7


def test_item_transform_keeps_receiving_whole_tuples_after_a_round_trip():
    again = pipeline_from_config(_json(pipeline_to_config(Pipeline([ItemTransform(enc=swap)]))))
    assert type(again.fs[0]) is ItemTransform
    assert again((1, 2)) == (2, 1)


def test_colreader_with_a_path_prefix_round_trips_as_a_folder_join():
    reader = ColReader("name", pref=Path("images"), suff=".png")
    again = step_from_config(_json(step_to_config(reader)))
    row = pd.Series({"name": "cat"})
    assert isinstance(again.pref, Path)
    assert again(row) == reader(row) == Path("images") / "cat.png"


def test_colreader_with_a_string_prefix_stays_a_string_join():
    again = step_from_config(_json(step_to_config(ColReader(0, pref="img_", label_delim=None))))
    assert again(pd.Series(["7"])) == "img_7"
