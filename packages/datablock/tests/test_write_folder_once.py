"""`write_folder_once`: a folder made once, atomically (temporary folder beside it, then one rename)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from datablock import write_folder_once


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _fill_abc(tmp):
    (tmp / "sub").mkdir()
    (tmp / "sub" / "a.txt").write_text("a")
    (tmp / "done.csv").write_text("x\n1\n")


def test_fill_is_moved_into_place_and_reused(tmp_path):
    calls = []

    def fill(tmp):
        calls.append(tmp)
        assert tmp.parent == tmp_path / "data" and tmp != tmp_path / "data" / "set"  # beside dest, not dest
        _fill_abc(tmp)

    dest = tmp_path / "data" / "set"  # the parent is made too
    assert write_folder_once(str(dest), fill) == dest
    assert (dest / "sub" / "a.txt").read_text() == "a" and (dest / "done.csv").exists()
    assert len(calls) == 1 and not calls[0].exists() and _leftovers(dest.parent) == []
    (dest / "sub" / "a.txt").write_text("changed")  # reused as it is: fill is not called again
    assert write_folder_once(dest, fill) == dest and len(calls) == 1
    assert write_folder_once(dest, fill, marker="done.csv") == dest and len(calls) == 1
    assert (dest / "sub" / "a.txt").read_text() == "changed"


def test_a_fill_that_raises_leaves_nothing(tmp_path):
    def fill(tmp):
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_folder_once(tmp_path / "set", fill)
    with pytest.raises(RuntimeError, match="disk full"):
        write_folder_once(tmp_path / "set", fill, marker="done.csv")
    assert list(tmp_path.iterdir()) == []  # no destination, no temporary folder


def test_marker_decides_what_is_complete(tmp_path):
    dest = tmp_path / "set"
    dest.mkdir()  # an empty folder (e.g. made by hand) is not complete with a marker: it is filled
    assert write_folder_once(dest, _fill_abc, marker="done.csv") == dest and (dest / "done.csv").exists()
    other = tmp_path / "other"
    (other / "junk").mkdir(parents=True)  # not empty, no marker: refused, never overwritten
    with pytest.raises(FileExistsError, match=r"other exists without 'done.csv'"):
        write_folder_once(other, _fill_abc, marker="done.csv")
    assert [p.name for p in other.iterdir()] == ["junk"] and _leftovers(tmp_path) == []
    with pytest.raises(ValueError, match=r"fill wrote no 'nothing.csv'"):  # a fill that never completes
        write_folder_once(tmp_path / "third", _fill_abc, marker="nothing.csv")
    assert not (tmp_path / "third").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("marker", [None, "done.csv"])
def test_another_process_finishing_first_keeps_its_folder(tmp_path, marker):
    dest = tmp_path / "set"

    def fill(tmp):
        _fill_abc(tmp)
        # meanwhile another process publishes the same folder, between this fill and the rename
        (dest / "sub").mkdir(parents=True)
        (dest / "sub" / "a.txt").write_text("theirs")
        (dest / "done.csv").write_text("x\n2\n")

    assert write_folder_once(dest, fill, marker=marker) == dest
    assert (dest / "sub" / "a.txt").read_text() == "theirs" and (dest / "done.csv").read_text() == "x\n2\n"
    assert _leftovers(tmp_path) == []


def test_concurrent_writers_give_one_complete_folder(tmp_path):
    dest = tmp_path / "set"
    both_filled = threading.Barrier(2, timeout=30)

    def writer(name):
        def fill(tmp):
            (tmp / "who.txt").write_text(name)
            (tmp / "done.csv").write_text(name)
            both_filled.wait()  # both have written their folder before either renames it

        return write_folder_once(dest, fill, marker="done.csv")

    with ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in [pool.submit(writer, n) for n in ("one", "two")]]  # re-raises any error
    assert results == [dest, dest]
    who = (dest / "who.txt").read_text()
    assert who in ("one", "two") and (dest / "done.csv").read_text() == who  # one writer's folder, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]
