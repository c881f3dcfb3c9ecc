import subprocess
import sys

from dispatch_transforms import compose


def test_compose_applies_left_to_right():
    assert compose(lambda x: x + 1, lambda x: x * 10)(2) == 30
    assert compose()(5) == 5


def test_import_does_not_load_torch():
    code = "import sys, dispatch_transforms; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
