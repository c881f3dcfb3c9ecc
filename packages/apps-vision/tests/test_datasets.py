import gzip
from importlib import resources

import numpy as np
from PIL import Image

from apps_vision import SHAPES_CODES, digits, get_image_files, shapes, shapes_label, tiers_home


def test_digits_are_written_once_under_tiers_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERS_HOME", str(tmp_path))
    assert tiers_home() == tmp_path
    path = digits()
    assert path == tmp_path / "data" / "digits"
    files = get_image_files(path)
    assert len(files) == 1797 and sorted({f.parent.name for f in files}) == [str(d) for d in range(10)]
    # the first row of the shipped table is a 0: its picture is the row's 64 values scaled from 0..16 to 0..255
    raw = resources.files("apps_vision").joinpath("data_files", "digits.csv.gz").read_bytes()
    first = [int(v) for v in gzip.decompress(raw).decode().splitlines()[0].split(",")]
    img = np.asarray(Image.open(path / "0" / "0000.png"))
    assert first[64] == 0 and img.shape == (8, 8)
    assert np.array_equal(img, np.round(np.array(first[:64]).reshape(8, 8) * 255 / 16).astype(np.uint8))
    mtime = (path / "0" / "0000.png").stat().st_mtime_ns
    assert digits() == path and (path / "0" / "0000.png").stat().st_mtime_ns == mtime  # reused, not rewritten
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".")]  # no temporary left


def test_shapes_are_seeded_and_masks_match_the_pictures(tmp_path):
    a = shapes(n=6, size=32, seed=1, dest=tmp_path / "a")
    b = shapes(n=6, size=32, seed=1, dest=tmp_path / "b")
    c = shapes(n=6, size=32, seed=2, dest=tmp_path / "c")
    fa, fb = get_image_files(a / "images"), get_image_files(b / "images")
    assert len(fa) == 6 and (a / "codes.txt").read_text().split() == SHAPES_CODES
    assert all(
        np.array_equal(np.asarray(Image.open(x)), np.asarray(Image.open(y))) for x, y in zip(fa, fb, strict=True)
    )
    assert not np.array_equal(np.asarray(Image.open(fa[0])), np.asarray(Image.open(c / "images" / fa[0].name)))
    for f in fa:
        img, mask = np.asarray(Image.open(f)).astype(int), np.asarray(Image.open(shapes_label(f)))
        assert shapes_label(f) == a / "labels" / f.name
        assert set(np.unique(mask)) <= {0, 1, 2} and (mask > 0).any()
        # circles are warm (red > blue), squares cool (blue > red) wherever the mask says so
        assert (img[mask == 1][:, 0] > img[mask == 1][:, 2]).all()
        assert (img[mask == 2][:, 2] > img[mask == 2][:, 0]).all()
