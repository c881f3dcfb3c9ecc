"""Export without pickle and prediction in a fresh process (one interpreter started for all checks)."""

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch

from apps_tabular import (
    Categorify,
    CollabDataLoaders,
    FillMissing,
    Normalize,
    TabularDataLoaders,
    collab_learner,
    synthetic_census,
    synthetic_ratings,
    tabular_learner,
)

FRESH = """
import json, sys, pandas as pd
from trainloop_callbacks import load_learner
tab_file, rows_file, collab_file, user, item = sys.argv[1:]
learn = load_learner(tab_file)
full, clas, probs = learn.predict(pd.read_csv(rows_file).iloc[0])
row = {k: str(v) for k, v in full.items()} if hasattr(full, "items") else {}
collab = load_learner(collab_file)
_, pred, _ = collab.predict(pd.Series({"user": user, "item": item}))
_, unknown, _ = collab.predict(pd.Series({"user": "stranger", "item": item}))
print(json.dumps({
    "cls": type(learn).__name__, "dls": type(learn.dls).__name__, "clas": int(clas), "probs": probs.tolist(),
    "row": row, "pred": float(pred), "unknown": float(unknown),
}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    df = synthetic_census(300)
    torch.manual_seed(0)
    dls = TabularDataLoaders.from_df(
        df,
        y_names="salary",
        cat_names=["workclass", "occupation"],
        cont_names=["age", "hours_per_week"],
        procs=[Categorify, FillMissing, Normalize],
        bs=32,
    )
    tab = tabular_learner(dls, layers=[8])
    pr = synthetic_ratings(n_users=30, n_items=20, n_ratings=300, seed=2)
    collab = collab_learner(CollabDataLoaders.from_df(pr.ratings, bs=32), n_factors=3, y_range=(0, 7))
    for learn in (tab, collab):
        with learn.no_bar():
            learn.fit(1, 1e-2)
    df.iloc[:3].to_csv(tmp / "rows.csv", index=False)
    files = [tab.export(tmp / "tab.pth"), tmp / "rows.csv", collab.export(tmp / "collab.pth")]
    user, item = pr.ratings.iloc[0]["user"], pr.ratings.iloc[0]["item"]
    argv = [sys.executable, "-c", textwrap.dedent(FRESH), *map(str, files), user, item]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    return {"tab": tab, "df": df, "collab": collab, "user": user, "item": item, "files": files, "fresh": fresh}


def test_export_files_hold_no_pickle(exported):
    for f in (exported["files"][0], exported["files"][2]):
        state = torch.load(f, weights_only=True)  # the safe loader reads it: no pickled objects
        assert state["model"]["type"].startswith("apps_tabular.")


def test_tabular_predicts_the_same_in_a_fresh_process(exported):
    fresh = exported["fresh"]
    _, clas, probs = exported["tab"].predict(exported["df"].iloc[0])
    assert fresh["dls"] == "TabularDataLoaders"
    assert fresh["clas"] == int(clas)
    assert fresh["probs"] == pytest.approx(probs.tolist(), abs=1e-6)


def test_collab_predicts_the_same_in_a_fresh_process_unknown_user_included(exported):
    fresh = exported["fresh"]
    _, pred, _ = exported["collab"].predict(pd.Series({"user": exported["user"], "item": exported["item"]}))
    assert fresh["pred"] == pytest.approx(float(pred), abs=1e-5)
    assert 0 < fresh["unknown"] < 7


def test_loaded_learner_is_a_tabular_learner_with_its_decoded_row(exported):
    fresh = exported["fresh"]
    assert fresh["cls"] == "TabularLearner"
    assert fresh["row"]["workclass"] == str(exported["df"].iloc[0]["workclass"])
