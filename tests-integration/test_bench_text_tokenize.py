"""tools/bench/text_tokenize.py's memory figure is the child's own peak, not its parent's (issue 17's measurement)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "tools" / "bench" / "text_tokenize.py"

# A parent that peaks at 1 GiB (as the bench after its throughput part), frees it, then runs one memory child.
PARENT = """
import subprocess, sys
big = b"x" * (1 << 30)  # every page written: resident
del big
out = subprocess.run([sys.executable, sys.argv[1], "--memory-child", "300"], capture_output=True, text=True, check=True)
print(out.stdout)
"""


@pytest.mark.slow  # a subprocess that imports torch and forks two workers (about 10 s)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the memory figure reads /proc (Linux)")
@pytest.mark.skipif(importlib.util.find_spec("apps_text") is None, reason="needs apps_text")
def test_memory_child_does_not_count_its_parents_peak():
    # ru_maxrss of a fresh exec'd process starts at the peak of the process it was forked from: the figure read
    # 450+ MB here, for a child that grows by a few MB. The peak of the child's own address space does not.
    out = subprocess.run(
        [sys.executable, "-c", PARENT, str(BENCH)], capture_output=True, text=True, check=True, timeout=300
    ).stdout.split()
    delta, n_docs = float(out[0]), int(out[2])
    assert n_docs == 300
    assert 0 <= delta < 100, f"peak above the imports: {delta} MB (the parent's 1 GiB peak leaked into the figure?)"
