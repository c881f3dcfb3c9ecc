"""The import contract in pyproject.toml holds, and breaking it is caught with a message naming the import."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    srcs = [str(p / "src") for p in sorted((root / "packages").iterdir()) if (p / "src").is_dir()]
    exe = Path(sys.executable).parent / "lint-imports"
    env = {"PYTHONPATH": ":".join(srcs), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run(
        [str(exe), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
    )


def test_contract_holds():
    proc = _lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_importing_datablock_from_pluggable_optim_is_caught(tmp_path):
    shutil.copytree(ROOT / "packages", tmp_path / "packages", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    init = tmp_path / "packages/pluggable-optim/src/pluggable_optim/__init__.py"
    init.write_text(init.read_text() + "\nimport datablock  # noqa: E402,F401\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "pluggable_optim -> datablock" in proc.stdout, proc.stdout
