"""Print `export UV_...` lines that make uv resolve packages the way pip is configured to.

uv ignores pip's configuration. On machines where pip is configured with local
indexes, find-links and a constraint file, this mirrors them for uv at run time
(nothing machine-specific is committed); on a machine without pip configuration
uv simply uses PyPI. The repo's own known-good pins (tools/constraints-dev.txt)
are always added, so dev/CI environments get torch 2.14.1 + torchvision 0.29.1.

Usage: eval "$(python tools/uv_settings.py)"
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pip_config() -> dict[str, str]:
    """pip's effective configuration as {key: value}, e.g. {'global.constraint': '/etc/...'}."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    conf: dict[str, str] = {}
    for line in out.splitlines():
        if "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.split(":")[-1] if key.startswith(":env:") else key
        key = key.removeprefix(":env:").lstrip(".")
        conf[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    return conf


def uv_settings() -> dict[str, str]:
    conf = pip_config()
    env = {"UV_INDEX_STRATEGY": "unsafe-best-match", "UV_PYTHON_DOWNLOADS": "never"}
    if conf.get("index-url"):
        env["UV_DEFAULT_INDEX"] = conf["index-url"]
    if conf.get("extra-index-url"):
        env["UV_INDEX"] = " ".join(conf["extra-index-url"].split())
    if conf.get("find-links"):
        env["UV_FIND_LINKS"] = ",".join(conf["find-links"].split())
    constraints = [str(ROOT / "tools" / "constraints-dev.txt")]
    constraints += [c for c in conf.get("constraint", "").split() if Path(c).exists()]
    env["UV_CONSTRAINT"] = " ".join(constraints)
    return env


if __name__ == "__main__":
    for key, value in uv_settings().items():
        print(f"export {key}={shlex.quote(value)}")
