import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from apps_vision import ImageDataLoaders, Resize, vision_learner

_PREDICT = """
import json, sys, torch
from trainloop_callbacks import load_learner
learn = load_learner(sys.argv[1])
label, idx, probs = learn.predict(sys.argv[2])
out = {"learner": type(learn).__name__, "model": type(learn.model).__name__, "label": str(label) if not
       isinstance(label, torch.Tensor) else label.tolist(), "label_type": type(label).__name__,
       "idx": int(idx), "probs": [float(p) for p in probs]}
print(json.dumps(out))
"""


def _predict_in_fresh_process(file, img):
    # a fresh interpreter: nothing of the exporting process (classes, pipelines) is in memory
    res = subprocess.run(
        [sys.executable, "-c", _PREDICT, str(file), str(img)], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder_data = tmp_path_factory.mktemp("data")
    for split, n in (("train", 6), ("valid", 2)):
        for label, value in (("cat", 30), ("dog", 220)):
            for i in range(n):
                (folder_data / split / label).mkdir(parents=True, exist_ok=True)
                img = np.full((12, 16, 3), value + i, np.uint8)
                Image.fromarray(img).save(folder_data / split / label / f"{label}_{split}_{i}.png")
    tmp_path = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(32), bs=4)
    learn = vision_learner(dls, "resnet18", pretrained=False)
    file = learn.export(tmp_path / "export.pth")
    img = folder_data / "valid" / "dog" / "dog_valid_0.png"
    with learn.no_bar():
        _, idx, probs = learn.predict(img)
    return file, img, int(idx), probs, _predict_in_fresh_process(file, img)


def test_export_without_pickle_and_predict_in_a_fresh_process(exported):
    file, _, idx, probs, out = exported
    state = torch.load(file, weights_only=True)  # no pickled objects: weights-only loading reads it
    assert state["model"]["type"].replace(":", ".") == "apps_vision.learner.VisionModel"
    assert state["model"]["config"]["arch"] == "resnet18" and state["model"]["config"]["n_out"] == 2
    assert out["model"] == "VisionModel"
    assert out["idx"] == idx and out["probs"] == pytest.approx(probs.tolist(), abs=1e-5)
    assert sum(out["probs"]) == pytest.approx(1.0, abs=1e-5)


def test_predict_returns_the_label_and_the_learner_class(exported):
    _, _, idx, _, out = exported
    assert out["label"] == ["cat", "dog"][idx]
    assert out["learner"] == "VisionLearner"


def test_from_name_func_with_a_lambda_exports_and_predicts(tmp_path):
    """fastai users label by file name with a function of their own: the export leaves it out (it is not needed to
    predict) and predicts in a fresh process; the loaded data refuses to label items with it."""
    files = []
    for label, value in (("cat", 30), ("dog", 220)):
        for i in range(4):
            f = tmp_path / f"{label}_{i}.png"
            Image.fromarray(np.full((12, 16, 3), value + i, np.uint8)).save(f)
            files.append(f)
    torch.manual_seed(0)
    dls = ImageDataLoaders.from_name_func(tmp_path, files, lambda name: name.split("_")[0], item_tfms=Resize(32), bs=2)
    learn = vision_learner(dls, "resnet18", pretrained=False)
    with pytest.warns(UserWarning, match="label function"):
        file = learn.export(tmp_path / "export.pth")
    with learn.no_bar():
        label, idx, _ = learn.predict(files[0])
    out = _predict_in_fresh_process(file, files[0])
    assert out["label"] == str(label) and out["idx"] == int(idx)
