"""The `tiers` command: its help, its argument checks, and `predict`'s refusals (one line each, no traceback)."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from tiers.cli import main
from tiers.predict import PredictError, application_of, load_for_predict
from trainloop_callbacks import Learner, MSELossFlat


def test_help_shows_the_three_commands():
    res = subprocess.run([sys.executable, "-m", "tiers.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0
    for command in ("quickstart", "predict", "info"):
        assert command in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "tiers.cli", "quickstart", "--help"], capture_output=True, text=True, timeout=120
    )
    for word in ("vision", "segment", "text", "tabular", "collab", "--out", "--epochs", "--cpu"):
        assert word in res.stdout


def test_quickstart_refuses_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["quickstart", "vision", "--epochs", "0"])
    assert "--epochs must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["quickstart", "speech"])
    assert "invalid choice" in capsys.readouterr().err


def _refusal(capsys, *argv):
    assert main(["predict", *map(str, argv)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tiers predict: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


class Payload:
    """Stands for any object a pickle could carry."""


def test_predict_refuses_files_that_are_not_safe_exports(tmp_path, capsys):
    assert "no such file" in _refusal(capsys, tmp_path / "missing.pth", "x")
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    assert "not a tiers export" in _refusal(capsys, text, "x")
    pickled = tmp_path / "pickled.pth"
    torch.save({"format": "tiers-export", "model": Payload()}, pickled)
    assert "pickled Python objects" in _refusal(capsys, pickled, "x")
    other = tmp_path / "other.pth"
    torch.save({"weights": torch.zeros(2)}, other)
    assert "not a tiers export" in _refusal(capsys, other, "x")


def test_predict_refuses_a_learner_of_no_application(tmp_path, capsys):
    """A plain `Learner` export is safe but names no application: refused, pointing at load_learner."""
    x = torch.randn(8, 2)
    dl = torch.utils.data.DataLoader(list(zip(x, x, strict=True)))
    learn = Learner((dl, dl), nn.Linear(2, 2), MSELossFlat(), path=tmp_path)
    file = learn.export("plain.pth")
    err = _refusal(capsys, file, "x")
    assert "trainloop_callbacks.learner:Learner" in err and "not one of the tiers applications" in err


@pytest.mark.parametrize(
    ("learner", "model", "data", "app"),
    [
        ("apps_vision.learner:VisionLearner", "apps_vision.learner:VisionModel", "", "vision"),
        ("apps_vision.learner:VisionLearner", "apps_vision.unet:DynamicUnet", "", "segment"),
        ("apps_text.learner:TextLearner", "apps_text.models:AWDLSTM", "", "text"),
        ("apps_tabular.learner:TabularLearner", "apps_tabular.model:TabularModel", "apps_tabular.data:X", "tabular"),
        ("apps_tabular.learner:TabularLearner", "apps_tabular.collab:EmbeddingDotBias", "", "collab"),
        ("apps_tabular.learner:TabularLearner", "apps_tabular.collab:EmbeddingNN", "", "collab"),
    ],
)
def test_the_application_is_read_from_the_recorded_names(learner, model, data, app):
    state = {"learner": learner, "model": {"type": model}, "data": {"type": data} if data else None}
    assert application_of(state) == app


def test_a_file_without_a_learner_class_has_no_application(tmp_path):
    file = tmp_path / "old.pth"
    torch.save({"format": "tiers-export", "version": 1, "model": {"type": "torch.nn:Linear"}}, file)
    with pytest.raises(PredictError, match="records no learner class"):
        load_for_predict(file)


def test_quickstart_writes_under_one_absolute_folder(tmp_path, monkeypatch, capsys):
    """A relative --out becomes absolute before the recipe runs (a learner resolves relative names against its
    own path, which would nest the folder twice), and metrics.json lands there."""
    from tiers.quickstart.common import Quickstart, QuickstartResult, summary

    seen = {}

    def recipe(out, epochs, device):
        seen["out"], seen["epochs"] = out, epochs
        return QuickstartResult("demo", "accuracy", 0.97, 0.95, [{"epoch": 0, "accuracy": 0.97}], model=out / "m.pth")

    monkeypatch.chdir(tmp_path)
    result = Quickstart("demo", "a test", 3, recipe).run(tmp_path.__class__("rel/demo"), cpu=True)
    assert seen == {"out": tmp_path / "rel" / "demo", "epochs": 3}
    assert (tmp_path / "rel" / "demo" / "metrics.json").is_file() and result.reached
    text = summary(result)
    assert text.splitlines()[0].startswith("accuracy: 97.00% (goal >= 95.00%: reached) after 1 epoch(s)")
    assert text.splitlines()[-1] == f"try: tiers predict {tmp_path / 'rel' / 'demo' / 'm.pth'}"
