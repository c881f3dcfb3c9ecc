"""Internal requirements name only the repo's own distributions, and a foreign `typedtensor` is never picked.

An unrelated 2018 project owns `typedtensor` on the package index (version 0.1, which `~=0.1.0` and
`==0.1.0` both accept): our distribution is `tiers-typedtensor`, whose folder and import name stay
`typedtensor`.
"""

import base64
import hashlib
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import isolated  # noqa: E402
from workspace import (  # noqa: E402
    META,
    closure,
    dists,
    find_tool,
    folders,
    import_name,
    internal_deps,
    normalize,
    pyproject,
    req_name,
    req_specifier,
    version,
    wheel_stem,
)


def _all_requirements(dist: str) -> list[str]:
    project = pyproject(dist)["project"]
    extras = project.get("optional-dependencies", {}).values()
    return [*project.get("dependencies", []), *(r for reqs in extras for r in reqs)]


def _lookalikes() -> set[str]:
    """Names that an internal requirement could carry by mistake: folders, import names, `tiers...`."""
    return {normalize(f.name) for f in folders().values()} | {normalize(import_name(d)) for d in dists()}


def test_the_ten_distributions_and_their_names():
    names = dists()
    assert len(names) == 10 and names[-1] == META
    assert "tiers-typedtensor" in names and "typedtensor" not in names
    assert folders()["tiers-typedtensor"].name == "typedtensor"
    assert import_name("tiers-typedtensor") == "typedtensor"
    # every other distribution: folder = distribution name, import name = distribution name with - -> _
    for dist in names:
        if dist != "tiers-typedtensor":
            assert folders()[dist].name == dist
            assert import_name(dist) == dist.replace("-", "_")


def test_no_internal_requirement_names_a_distribution_outside_the_repo():
    ours = set(dists())
    suspicious = _lookalikes() | {"tiers"}
    bad = []
    for dist in ours:
        for req in _all_requirements(dist):
            name = req_name(req)
            if (name in suspicious or name.startswith("tiers")) and name not in ours:
                bad.append(f"{dist}: {req}")
    assert bad == [], f"requirements naming a distribution that is not one of the repo's ten: {bad}"


def test_meta_package_pins_every_component_exactly():
    import tiers.versions

    reqs = {req_name(r): req_specifier(r) for r in pyproject(META)["project"]["dependencies"]}
    components = [d for d in dists() if d != META]
    for dist in components:
        assert reqs.get(dist) == f"=={version(dist)}", (dist, reqs)
    # the component table of `tiers` (the `tiers` command, the version check) uses the same names
    assert set(tiers.versions.LAYERS) == set(components)
    for dist, (_, deps) in tiers.versions.LAYERS.items():
        assert set(deps) == set(internal_deps(dist)), dist


def test_hatch_iso_tables_name_distributions_and_folders():
    assert isolated.transitive_table_problems() == []
    sources = tomllib.loads((ROOT / "hatch.toml").read_text())["envs"]["iso"]["sources"]
    assert {d: (ROOT / p).resolve() for d, p in sources.items()} == {d: f.resolve() for d, f in folders().items()}


def _fake_foreign_wheel(out: Path) -> Path:
    """A wheel of a distribution named `typedtensor`, version 0.1, as the unrelated index project is."""
    files = {
        "typedtensor/__init__.py": b"FOREIGN = True\n",
        "typedtensor-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: typedtensor\nVersion: 0.1\n",
        "typedtensor-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("typedtensor-0.1.dist-info/RECORD,,")
    files["typedtensor-0.1.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / "typedtensor-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def _installed(uv: str, py: str) -> dict[str, str]:
    listed = subprocess.run([uv, "pip", "list", "--python", py, "--format", "freeze"], capture_output=True, text=True)
    return {normalize(n): v for n, _, v in (line.partition("==") for line in listed.stdout.splitlines())}


def test_installing_datablock_offline_never_picks_the_foreign_typedtensor(tmp_path):
    """datablock's internal wheels and a fake foreign `typedtensor` 0.1 in a find-links folder, no index."""
    hatchling, uv = find_tool("hatchling"), find_tool("uv")
    links = tmp_path / "links"
    links.mkdir()
    needed = closure("datablock")
    for dist in needed:  # wheels built from the folders, offline (hatchling from tools/dev's .tools)
        subprocess.run(
            [hatchling, "build", "-t", "wheel", "-d", str(links)], cwd=folders()[dist], check=True, capture_output=True
        )
        assert list(links.glob(f"{wheel_stem(dist)}-{version(dist)}-*.whl")), dist
    _fake_foreign_wheel(links)
    # external requirements (torch, pandas, ...) are left out of the resolution: it runs with no index at all
    externals = sorted({req_name(r) for d in needed for r in pyproject(d)["project"]["dependencies"]} - set(dists()))
    excludes = tmp_path / "externals.txt"
    excludes.write_text("\n".join(externals) + "\n")
    flags = ["--no-index", "--find-links", str(links), "--excludes", str(excludes), "--no-cache"]

    def fresh_venv(name: str) -> str:
        venv = tmp_path / name
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
        return str(venv / "bin" / "python")

    py = fresh_venv("venv")
    proc = subprocess.run([uv, "pip", "install", "--python", py, *flags, "datablock"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    installed = _installed(uv, py)
    assert "typedtensor" not in installed, installed
    assert {d: installed.get(d) for d in needed} == {d: version(d) for d in needed}
    where = subprocess.run(
        [py, "-c", "import importlib.util as u; print(u.find_spec('typedtensor').origin)"],
        capture_output=True,
        text=True,
    )
    init = Path(where.stdout.strip())
    assert where.returncode == 0 and "FOREIGN" not in init.read_text(), where.stderr
    # control: the fake is a real candidate, chosen as soon as a requirement names `typedtensor` (the old name)
    control = fresh_venv("control")
    proc = subprocess.run(
        [uv, "pip", "install", "--python", control, *flags, "typedtensor~=0.1.0"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert _installed(uv, control).get("typedtensor") == "0.1"
