from pathlib import Path

import pytest

from datablock import RegexLabeller, parent_label


def test_parent_label():
    assert parent_label(Path("data/train/cat/1.png")) == "cat"
    assert parent_label("dog/2.jpg") == "dog"


def test_regex_labeller_search_and_match():
    lab = RegexLabeller(r"([a-z_]+)_\d+\.jpg$")
    assert lab(Path("/images/great_pyrenees_17.jpg")) == "great_pyrenees"
    assert RegexLabeller(r"^(\w+)-", match=True)("abc-1") == "abc"


def test_regex_labeller_errors_name_item_and_pattern():
    lab = RegexLabeller(r"(\d+)\.png$")
    with pytest.raises(ValueError, match=r"pattern '\(\\\\d\+\)\\\\.png\$' does not search item 'cat\.jpg'"):
        lab("cat.jpg")
    with pytest.raises(ValueError, match="no group"):
        RegexLabeller(r"\d+")
