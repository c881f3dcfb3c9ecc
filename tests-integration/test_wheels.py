"""Built wheels (not editable) install together into a fresh environment and every package imports."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_dists  # noqa: E402
from workspace import dists, find_tool, import_name  # noqa: E402


@pytest.mark.slow
def test_all_wheels_install_into_fresh_env_and_import(tmp_path):
    wheels = build_dists.build(tmp_path / "dist")
    assert build_dists.check_pins(wheels) == []
    uv = find_tool("uv")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([uv, "pip", "install", "--quiet", "--python", py, *map(str, wheels)], check=True)
    code = "; ".join(f"import {import_name(d)}" for d in dists())
    out = subprocess.run([py, "-c", f"{code}; import tiers; print(tiers.__file__)"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "site-packages" in out.stdout  # the wheel, not the editable source tree
    cli = subprocess.run([str(venv / "bin" / "tiers")], capture_output=True, text=True)
    assert cli.returncode == 0 and "apps-vision" in cli.stdout, cli.stderr
