"""Importing typedtensor adds nothing to torch, Pillow or numpy and changes no global torch state."""

import subprocess
import sys

SCRIPT = """
import numpy, torch
from PIL import Image

def snapshot():
    return (
        sorted(vars(torch.Tensor)),
        sorted(vars(torch._C.TensorBase)),
        sorted(vars(Image.Image)),
        sorted(vars(numpy.ndarray)),
        [repr(g) for g in torch.serialization.get_safe_globals()],
        torch.get_default_dtype(),
        torch.is_grad_enabled(),
    )

before = snapshot()
import typedtensor, typedtensor.testing, typedtensor.all
after = snapshot()
assert before == after, [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
print("unchanged")
"""


def test_import_changes_no_foreign_state():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "unchanged"
