"""`import apps_vision` stays cheap (issue 15: at most 0.3 s over `import torch, torchvision`).

The heavy imports it used to pay for are deferred: plum and beartype come with the first dispatch of a
transform (dispatch_transforms), pandas and matplotlib only with the features that use them. Checked in a
fresh interpreter; the timing itself is `tools/bench/import_time.py` (too noisy for a test on a shared machine).
"""

import subprocess
import sys

DEFERRED = ("plum", "beartype", "pandas", "matplotlib")


def test_import_apps_vision_defers_heavy_modules():
    code = (
        "import sys\n"
        "import apps_vision\n"
        f"print(sorted(m for m in {DEFERRED!r} if m in sys.modules))\n"
        "from apps_vision import Resize\n"
        "from apps_vision import PILImage\n"
        "import numpy as np\n"
        "out = Resize(4, method='squish')(PILImage.create(np.zeros((8, 6, 3), dtype=np.uint8)))\n"
        "print(out.size, 'plum' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "(4, 4) True"]  # a transform call brings plum in, and works
