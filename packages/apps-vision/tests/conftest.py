import numpy as np
import pytest
from PIL import Image


def _write(path, value, size=(12, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((*size, 3), value, np.uint8)
    Image.fromarray(a).save(path)


@pytest.fixture
def folder_data(tmp_path):
    """path/{train,valid}/{cat,dog}/*.png: cats dark, dogs bright; file names start with the label."""
    for split, n in (("train", 6), ("valid", 2)):
        for label, value in (("cat", 30), ("dog", 220)):
            for i in range(n):
                _write(tmp_path / split / label / f"{label}_{split}_{i}.png", value + i)
    return tmp_path
