"""The README's generated blocks: present once each, filled, consistent with what produced them.

The blocks are written by tools/gen_readme_assets.py (the quickstart's output and pictures), tools/bench/report.py
(the Performance table, from the logs in docs/bench/) and tools/component_sizes.py (import time and size);
tools/readme_blocks.py owns the markers. Nothing here runs a quickstart or a benchmark.
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def blocks(monkeypatch_module):
    monkeypatch_module.syspath_prepend(str(TOOLS))  # the tools import each other as scripts do
    return _load("readme_blocks", TOOLS / "readme_blocks.py")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_every_block_is_present_once_and_filled(blocks):
    text = (ROOT / "README.md").read_text()
    for name, script in blocks.BLOCKS.items():
        assert (ROOT / script).exists(), script
        content = blocks.read_block(name, text)
        assert content and f"python {script}" in content, f"block {name!r} is empty or does not name {script}"


def test_replace_block_touches_only_its_block_and_refuses_bad_markers(blocks):
    begin, end = blocks.begin_marker("components"), blocks.end_marker("components")
    text = f"before\n{begin}\nold\n{end}\nafter\n"
    new = blocks.replace_block("components", "new\nlines", text)
    assert new == f"before\n{begin}\nnew\nlines\n{end}\nafter\n"
    assert blocks.read_block("components", new) == "new\nlines"
    with pytest.raises(ValueError, match=r"'performance'.*found it 0 times"):
        blocks.replace_block("performance", "x", text)
    with pytest.raises(ValueError, match="found it 2 times"):
        blocks.replace_block("components", "x", text + begin)
    with pytest.raises(ValueError, match="end marker comes before"):
        blocks.replace_block("components", "x", f"{end}\n{begin}\n")
    with pytest.raises(KeyError, match="unknown README block"):
        blocks.read_block("nonsense", text)


def test_quickstart_block_shows_a_reached_accuracy_and_small_pictures_that_exist(blocks):
    content = blocks.read_block("quickstart")
    lines = re.findall(r"^accuracy: (\d+\.\d+)% \(goal >= 95\.00%: reached\)", content, re.MULTILINE)
    assert len(lines) == 1 and float(lines[0]) >= 95.0, content
    assert "tiers predict" in content
    links = blocks.image_links(content)
    assert sorted(Path(link).name for link in links) == ["confusion_matrix.png", "show_batch.png", "show_results.png"]
    for link in links:
        file = ROOT / link
        assert file.exists(), f"README shows {link}, which is not in the repository"
        assert file.stat().st_size < 100_000, f"{link} is {file.stat().st_size} bytes: regenerate it smaller"
        with Image.open(file) as img:
            assert img.format == "PNG" and min(img.size) >= 64


def test_performance_block_is_what_the_committed_logs_give(blocks):
    report = _load("bench_report", TOOLS / "bench" / "report.py")
    assert blocks.read_block("performance") == report.table().strip("\n")
    assert len({b.name for b in report.BENCHES}) == len(report.BENCHES)


def test_bench_parsers_read_figures_and_compute_speed_both_ways(blocks):
    report = _load("bench_report", TOOLS / "bench" / "report.py")
    log = (
        "ns per call\n"
        "plain function        2-tuple          200              1.0\n"
        "dispatch_transforms   2-tuple          600            200      3.0\n"
        "fasttransform         2-tuple        2,400           1100     12.0\n"
    )
    (row,) = report.transform_overhead(log)
    assert (row.tiers, row.torch, row.fastai) == (600.0, 200.0, 2400.0)
    assert row.speed(row.torch) == pytest.approx(1 / 3) and row.speed(row.fastai) == pytest.approx(4.0)
    fast = report.Row("x", "img/s", 300.0, 100.0, None, True)
    assert fast.speed(fast.torch) == pytest.approx(3.0) and fast.speed(fast.fastai) is None
    with pytest.raises(ValueError, match="dispatch_transforms"):
        report.transform_overhead("plain function   2-tuple   200\n")


def test_components_block_has_a_row_per_distribution(blocks, monkeypatch_module):
    workspace = _load("workspace", TOOLS / "workspace.py")
    content = blocks.read_block("components")
    for dist in workspace.dists():
        row = re.search(rf"^\| `{re.escape(dist)}` \| `{workspace.import_name(dist)}` \|(.*)$", content, re.MULTILINE)
        assert row, f"no row for {dist}"
        cells = [c.strip() for c in row.group(1).split("|")]
        assert re.fullmatch(r"[\d,]+", cells[0]) and re.fullmatch(r"[\d,]+", cells[2]), row.group(0)
