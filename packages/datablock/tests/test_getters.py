import pytest

from datablock import get_files


def test_get_files_filters_by_extension_and_folder(tmp_path):
    for rel in ["train/cat/a.png", "train/dog/b.PNG", "valid/cat/c.png", "train/cat/notes.txt", ".hidden/d.png"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    got = [p.relative_to(tmp_path).as_posix() for p in get_files(tmp_path, extensions=[".png"])]
    assert got == ["train/cat/a.png", "train/dog/b.PNG", "valid/cat/c.png"]
    got = [p.relative_to(tmp_path).as_posix() for p in get_files(tmp_path, extensions=["png"], folders=["valid"])]
    assert got == ["valid/cat/c.png"]
    assert get_files(tmp_path, recurse=False) == []


def test_get_files_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        get_files(tmp_path / "nope")
