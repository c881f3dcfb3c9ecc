"""`tiers quickstart APP --epochs 1` for every application: it trains on the shipped data and writes its pictures,
metrics.json and the exported model; `tiers predict` on that model works in a fresh process and refuses tampered
copies of it (a name outside the allow-list, weights that do not fit) with a one-line reason."""

import json
import os
import shlex
import subprocess
import sys

import pytest
import torch

# application -> (the confusion picture or its equivalent, the headline metric)
APPS = {
    "vision": ("confusion_matrix.png", "accuracy"),
    "segment": ("worst_masks.png", "foreground_dice"),
    "text": ("confusion_matrix.png", "accuracy"),
    "tabular": ("confusion_matrix.png", "accuracy"),
    "collab": ("item_biases.png", "valid_mse"),
}


def _tiers(*args, env, timeout=900):
    cmd = [sys.executable, "-c", "import sys; from tiers.cli import main; sys.exit(main())", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return {**os.environ, "TIERS_HOME": str(tmp_path_factory.mktemp("tiers_home"))}  # shipped data written here


@pytest.fixture(scope="module", params=list(APPS))
def quickstart(request, env, tmp_path_factory):
    app = request.param
    out = tmp_path_factory.mktemp(f"qs_{app}")
    res = _tiers("quickstart", app, "--epochs", "1", "--out", out, "--cpu", env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return app, out, res.stdout


@pytest.mark.slow
def test_quickstart_writes_its_files_and_says_what_to_try(quickstart):
    app, out, stdout = quickstart
    picture, metric = APPS[app]
    for name in ("show_batch.png", "show_results.png", picture, "metrics.json", "model.pth"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "show_batch.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["app"] == app and metrics["metric"] == metric and len(metrics["epochs"]) == 1
    assert metrics["epochs"][0]["train_loss"] > 0 and metrics["model"] == str(out / "model.pth")
    lines = stdout.splitlines()
    assert any(line.startswith(f"{metric}: ") for line in lines)  # the headline line
    assert any(str(out / "show_results.png") in line for line in lines)
    assert lines[-1].startswith(f"try: tiers predict {out / 'model.pth'} ")


@pytest.mark.slow
def test_predict_on_the_export_in_a_fresh_process(quickstart, env):
    app, out, stdout = quickstart
    try_line = shlex.split(stdout.splitlines()[-1].removeprefix("try: tiers "))
    res = _tiers(*try_line, "--out", out / "predictions", env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    printed = [line for line in res.stdout.splitlines() if line.strip()]
    assert len(printed) >= 2, res.stdout
    if app in ("vision", "segment"):
        assert (out / "predictions" / "predictions.png").is_file()


@pytest.mark.slow
def test_predict_refuses_tampered_exports(quickstart, env, tmp_path):
    _, out, stdout = quickstart
    inputs = shlex.split(stdout.splitlines()[-1])[4:]
    state = torch.load(out / "model.pth", weights_only=True)

    outside = {**state, "model": {**state["model"], "type": "os:system"}}
    torch.save(outside, tmp_path / "outside.pth")
    res = _tiers("predict", tmp_path / "outside.pth", *inputs, env=env)
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert "refused" in res.stderr and "allow-list" in res.stderr

    name, w = next((k, v) for k, v in state["weights"].items() if v.ndim >= 1 and v.is_floating_point())
    misfit = {**state, "weights": {**state["weights"], name: torch.zeros(w.shape[0] + 1, *w.shape[1:])}}
    torch.save(misfit, tmp_path / "misfit.pth")
    res = _tiers("predict", tmp_path / "misfit.pth", *inputs, env=env)
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert "weights do not fit" in res.stderr and name in res.stderr
