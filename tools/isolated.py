"""Run each package's tests in an environment holding only that package and its declared dependencies.

The environments are the `iso` matrix of hatch.toml (uv, settings mirrored from pip), so a package
whose code or tests import something it does not declare fails here. Slow tests (`-m slow`) run once,
in the combined run, not here. dispatch-transforms is also checked to have no torch at all.

Usage: python tools/isolated.py [dist ...]      (distribution names; default: every package)
"""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib

from workspace import ROOT, closure, dists, find_tool, folder, folders, internal_deps

NO_TORCH = ("dispatch-transforms",)


def run(cmd: list[str]) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def check(dist: str, hatch: str) -> list[str]:
    env = f"iso.{folder(dist).name}"  # the matrix names folders
    problems = []
    # Internal packages are installed as copies here (hatch sources), so rebuild the env each run
    # to test the working tree, not a stale copy (with uv's cache this costs about a second).
    run([hatch, "env", "remove", env])
    if run([hatch, "env", "create", env]) != 0:
        return [f"{dist}: environment could not be created"]
    if dist in NO_TORCH:
        probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"
        if run([hatch, "run", f"{env}:python", "-c", probe]) != 0:
            problems.append(f"{dist}: torch is installed in its environment but must not be needed")
    tests = str(folder(dist).relative_to(ROOT) / "tests")
    pytest_args = ["-q", "-m", "not slow", "-p", "no:cacheprovider", tests]
    if run([hatch, "run", f"{env}:python", "tools/run_tests.py", *pytest_args]):
        problems.append(f"{dist}: tests failed with only its declared dependencies installed")
    return problems


def transitive_table_problems() -> list[str]:
    """hatch's sources redirect direct dependencies only: hatch.toml must list the transitive internal ones."""
    iso = tomllib.loads((ROOT / "hatch.toml").read_text())["envs"]["iso"]
    dist_of = {f.name: d for d, f in folders().items()}
    listed: dict[str, set[str]] = {d: set() for d in dists()}
    problems = []
    for entry in iso.get("overrides", {}).get("matrix", {}).get("pkg", {}).get("dependencies", []):
        for pkg in entry["if"]:
            if pkg not in dist_of:
                problems.append(f"hatch.toml [envs.iso.overrides]: {pkg!r} is not a package folder")
                continue
            listed[dist_of[pkg]].add(entry["value"])
    matrix = {pkg for m in iso.get("matrix", []) for pkg in m.get("pkg", [])}
    if matrix != set(dist_of):
        problems.append(f"hatch.toml [[envs.iso.matrix]]: expected the folders {sorted(dist_of)}, has {sorted(matrix)}")
    sources = set(iso.get("sources", {}))
    if sources != set(dists()):
        problems.append(
            f"hatch.toml [envs.iso.sources]: expected the distributions {sorted(dists())}, has {sorted(sources)}"
        )
    for dist in dists():
        need = set(closure(dist)) - set(internal_deps(dist)) - {dist}
        if need != listed[dist]:
            problems.append(
                f"hatch.toml [envs.iso.overrides]: {dist} needs transitive {sorted(need)}, lists {sorted(listed[dist])}"
            )
    return problems


def main(selected: list[str]) -> int:
    hatch = find_tool("hatch")
    for name in selected:
        folder(name)  # a clear error for a name that is not a distribution of the repo
    targets = selected or dists()
    start = time.perf_counter()
    problems: list[str] = transitive_table_problems()
    for dist in targets:
        t0 = time.perf_counter()
        problems += check(dist, hatch)
        print(f"isolated: {dist} done in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"isolated: {len(targets)} packages in {time.perf_counter() - start:.1f} s")
    for p in problems:
        print(f"isolated: FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
