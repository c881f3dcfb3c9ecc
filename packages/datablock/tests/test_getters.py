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


def test_file_getter_lists_subfolder(tmp_path):
    from datablock import FileGetter

    for rel in ["imgs/a.jpg", "imgs/sub/b.jpg", "imgs/c.txt", "other/d.jpg"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    got = [p.relative_to(tmp_path).as_posix() for p in FileGetter("imgs", extensions=[".jpg"])(tmp_path)]
    assert got == ["imgs/a.jpg", "imgs/sub/b.jpg"]
    assert [p.name for p in FileGetter("imgs", recurse=False)(tmp_path)] == ["a.jpg", "c.txt"]


def test_item_and_attr_getters():
    from types import SimpleNamespace

    from datablock import AttrGetter, ItemGetter

    assert ItemGetter(1)(("a", "b")) == "b"
    assert ItemGetter("k")({"k": 3}) == 3
    with pytest.raises(IndexError, match=r"ItemGetter\(5\).*cannot index"):
        ItemGetter(5)((1, 2))
    assert AttrGetter("x")(SimpleNamespace(x=4)) == 4
    assert AttrGetter("y", default=0)(SimpleNamespace(x=4)) == 0
    with pytest.raises(AttributeError, match=r"AttrGetter\('y'\).*no such attribute"):
        AttrGetter("y")(SimpleNamespace(x=4))


def test_col_reader_on_series_and_namedtuples():
    from pathlib import Path

    import pandas as pd

    from datablock import ColReader

    df = pd.DataFrame({"fname": ["a", "b"], "labels": ["x y", "z"], "v": [1.5, 2.5]})
    row, tup = df.iloc[0], next(df.itertuples())
    for r in (row, tup):
        assert ColReader("fname", pref="img/", suff=".png")(r) == "img/a.png"
        assert ColReader("fname", pref=Path("img"), suff=".png")(r) == Path("img") / "a.png"
        assert ColReader("labels", label_delim=" ")(r) == ["x", "y"]
        assert ColReader(["fname", "v"])(r) == ["a", 1.5]
        assert ColReader(2)(r) == 1.5  # by position, both for a Series and an itertuples row
    with pytest.raises(KeyError, match="column 'nope' not found"):
        ColReader("nope")(row)


def _tree(tmp_path, rels):
    for rel in rels:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


@pytest.mark.parametrize("extensions", [".png", "png", ".PNG", {".png"}, frozenset({".png"}), (".png",), [".png"]])
def test_one_extension_as_a_string_or_any_collection(tmp_path, extensions):
    # a string used to be iterated letter by letter ({'.', 'p', 'n', 'g'}) and matched nothing
    from datablock import FileGetter

    _tree(tmp_path, ["a/b.png", "a/c.PNG", "a/d.jpg", "a/e.pngx", "train/f.png"])
    expected = ["a/b.png", "a/c.PNG", "train/f.png"]
    assert [p.relative_to(tmp_path).as_posix() for p in get_files(tmp_path, extensions=extensions)] == expected
    assert [p.relative_to(tmp_path).as_posix() for p in FileGetter(extensions=extensions)(tmp_path)] == expected


def test_one_folder_as_a_string(tmp_path):
    from datablock import FileGetter

    _tree(tmp_path, ["train/a.png", "valid/b.png", "t/c.png", "r/d.png"])
    assert [p.name for p in get_files(tmp_path, folders="train")] == ["a.png"]
    assert [p.name for p in FileGetter(folders="valid")(tmp_path)] == ["b.png"]


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (b".png", "extensions must be one string"),
        ({".png": 1}, "extensions must be one string"),
        (iter([".png"]), "extensions must be one string"),
        ([".png", 3], "each of extensions must be a string such as '.png', got 3"),
    ],
)
def test_odd_extensions_are_refused(tmp_path, extensions, message):
    from datablock import FileGetter

    with pytest.raises(TypeError, match=message):
        get_files(tmp_path, extensions=extensions)
    with pytest.raises(TypeError, match=f"FileGetter: {message}"):
        FileGetter(extensions=extensions)
