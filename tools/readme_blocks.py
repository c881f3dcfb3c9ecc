"""Generated blocks in the root README: text between a pair of marker comments that a script rewrites.

    <!-- generated: NAME (by tools/SCRIPT.py; edit the script, not this block) -->
    ...
    <!-- end generated: NAME -->

The scripts that own a block (`tools/gen_readme_assets.py`, `tools/bench/report.py`, `tools/component_sizes.py`)
replace only what lies between its two markers; everything else in the README is left as it is. A block that
is missing, or whose markers appear twice or out of order, is an error naming the block (never a silent append).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# name -> the script that writes it (tests-integration/test_readme_generated.py checks every block is present)
BLOCKS = {
    "quickstart": "tools/gen_readme_assets.py",
    "performance": "tools/bench/report.py",
    "components": "tools/component_sizes.py",
}


def begin_marker(name: str) -> str:
    return f"<!-- generated: {name} (by {BLOCKS[name]}; edit the script, not this block) -->"


def end_marker(name: str) -> str:
    return f"<!-- end generated: {name} -->"


def _span(text: str, name: str) -> tuple[int, int]:
    """Where the block's content lies: from the end of its begin marker's line to the start of its end marker."""
    if name not in BLOCKS:
        raise KeyError(f"unknown README block {name!r}; known: {', '.join(BLOCKS)}")
    begin, end = begin_marker(name), end_marker(name)
    for marker in (begin, end):
        n = text.count(marker)
        if n != 1:
            raise ValueError(f"README block {name!r}: expected the marker {marker!r} once, found it {n} times")
    start, stop = text.index(begin) + len(begin), text.index(end)
    if stop < start:
        raise ValueError(f"README block {name!r}: its end marker comes before its begin marker")
    return start, stop


def read_block(name: str, text: str | None = None) -> str:
    """The content of block `name` (without the markers) in `text` (default: the root README)."""
    text = README.read_text() if text is None else text
    start, stop = _span(text, name)
    return text[start:stop].strip("\n")


def replace_block(name: str, content: str, text: str) -> str:
    """`text` with the content of block `name` replaced by `content`."""
    start, stop = _span(text, name)
    return text[:start] + "\n" + content.strip("\n") + "\n" + text[stop:]


def write_block(name: str, content: str, readme: Path = README) -> bool:
    """Rewrite block `name` of `readme`; True when the file changed."""
    old = readme.read_text()
    new = replace_block(name, content, old)
    if new != old:
        readme.write_text(new)
    return new != old


def image_links(content: str) -> list[str]:
    """The relative image paths that a block's markdown shows (`![alt](path)`)."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", content)
