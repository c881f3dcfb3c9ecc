"""What the entry modules (`tiers.vision`, `tiers.text`, `tiers.tabular`, `tiers.collab`, `tiers.all`) re-export.

Each entry module re-exports the public names (`__all__`) of the packages an application stands on, so
`from tiers.vision import *` gives what `from fastai.vision.all import *` gives a fastai user. The modules
themselves are explicit import lists written by `tools/gen_entry_modules.py` from this table; the tests of
`packages/tiers/tests/test_entries.py` check that the written modules match it and that no name is bound
to two different objects anywhere in them.
"""

from __future__ import annotations

import importlib

__all__ = ["ENTRY_PACKAGES", "PREFERRED", "EXCLUDED_NAMES", "NameClashError", "entry_names", "clashes"]

# The foundation and the mid layer: what every application's user trains with.
# trainloop_callbacks keeps its metrics and its layers in subpackages with their own `__all__`
_BASE = (
    "typedtensor",
    "dispatch_transforms",
    "pluggable_optim",
    "datablock",
    "trainloop_callbacks",
    "trainloop_callbacks.metrics",
    "trainloop_callbacks.layers",
)

ENTRY_PACKAGES: dict[str, tuple[str, ...]] = {
    "vision": (*_BASE, "gpu_augment", "apps_vision"),
    "text": (*_BASE, "apps_text"),
    "tabular": (*_BASE, "apps_tabular"),
    # as in fastai (`fastai.collab` starts from `fastai.tabular.all`): collab_learner returns a TabularLearner
    "collab": (*_BASE, "apps_tabular"),
}
"""Entry module -> the packages whose public names it re-exports (in layer order)."""

PREFERRED: dict[str, str] = {
    # apps_vision's Resize is the item transform a user passes in `item_tfms=Resize(...)`, as in fastai;
    # gpu_augment's batch Resize keeps its home: `from gpu_augment import Resize`.
    "Resize": "apps_vision",
    # the same function written twice ($TIERS_HOME, else ~/.tiers); datablock's is the home of data access
    "tiers_home": "datablock",
}
"""Names two packages export as different objects -> the package whose object every entry module binds."""

EXCLUDED_NAMES: frozenset[str] = frozenset({"__version__"})
"""Public names never re-exported (each package's own version)."""


class NameClashError(ValueError):
    """Two packages of one entry module export one name as different objects and `PREFERRED` does not choose."""


def clashes(packages: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """Names that two or more of `packages` export (in `__all__`) as different objects -> those packages."""
    owners: dict[str, list[tuple[str, object]]] = {}
    for pkg in packages:
        mod = importlib.import_module(pkg)
        for name in mod.__all__:
            if name not in EXCLUDED_NAMES:
                owners.setdefault(name, []).append((pkg, getattr(mod, name)))
    out = {}
    for name, found in owners.items():
        if len({id(obj) for _, obj in found}) > 1:
            out[name] = [pkg for pkg, _ in found]
    return out


def _all_packages() -> tuple[str, ...]:
    return tuple(dict.fromkeys(pkg for pkgs in ENTRY_PACKAGES.values() for pkg in pkgs))


def entry_names(entry: str) -> dict[str, str]:
    """Name -> the package it is imported from, for one entry module (or `"all"`: every entry module's names).

    A name several packages export as one object comes from the lowest of them (its home). A name that
    packages anywhere in tiers export as different objects is bound to the object of the package `PREFERRED`
    names, in every entry module (one whose packages do not include it leaves the name out), so no two
    entry modules bind one name to two objects; an unchosen clash raises `NameClashError`.
    """
    if entry != "all" and entry not in ENTRY_PACKAGES:
        raise KeyError(f"no entry module {entry!r}; expected one of {[*ENTRY_PACKAGES, 'all']}")
    everything = _all_packages()
    packages = everything if entry == "all" else ENTRY_PACKAGES[entry]
    clashing = clashes(everything)
    unresolved = {n: p for n, p in clashing.items() if PREFERRED.get(n) not in p}
    if unresolved:
        lines = "; ".join(f"{n!r} from {', '.join(p)}" for n, p in sorted(unresolved.items()))
        raise NameClashError(
            f"names exported as different objects by several packages: {lines}. Choose one package per name "
            "in tiers.entries.PREFERRED (or rename one) and regenerate the entry modules."
        )
    names: dict[str, str] = {}
    for pkg in packages:
        for name in importlib.import_module(pkg).__all__:
            if name in EXCLUDED_NAMES or name in names:
                continue
            if name in clashing:
                if PREFERRED[name] in packages:
                    names[name] = PREFERRED[name]
            else:
                names[name] = pkg
    return names
