"""The components tiers pins, and the check that the installed ones match."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import metadata

__all__ = ["LAYERS", "Component", "ComponentVersionError", "check_components", "components"]

# The layer map of ARCHITECTURE.md: distribution -> (layer, internal dependencies). Distribution names:
# `tiers-typedtensor` imports as `typedtensor` (the index's `typedtensor` is an unrelated project).
LAYERS: dict[str, tuple[int, tuple[str, ...]]] = {
    "tiers-typedtensor": (0, ()),
    "dispatch-transforms": (0, ()),
    "pluggable-optim": (0, ()),
    "datablock": (1, ("tiers-typedtensor", "dispatch-transforms")),
    "trainloop-callbacks": (1, ("pluggable-optim",)),
    "gpu-augment": (1, ("tiers-typedtensor", "dispatch-transforms")),
    "apps-vision": (
        2,
        (
            "datablock",
            "trainloop-callbacks",
            "gpu-augment",
            "tiers-typedtensor",
            "dispatch-transforms",
            "pluggable-optim",
        ),
    ),
    "apps-text": (2, ("datablock", "trainloop-callbacks", "tiers-typedtensor", "dispatch-transforms")),
    "apps-tabular": (2, ("datablock", "trainloop-callbacks")),
}

# `name[extras] == version ; marker`: the meta-package asks for some components with extras
_PIN = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*==\s*([^;\s,]+)\s*(?:;.*)?$")


class ComponentVersionError(ImportError):
    """The installed components are not the versions this tiers release was tested with."""


@dataclass(frozen=True)
class Component:
    """One pinned component: what tiers expects and what is installed (None when missing)."""

    name: str
    pinned: str
    installed: str | None

    @property
    def ok(self) -> bool:
        return self.pinned == self.installed


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for req in metadata.requires("tiers") or []:
        m = _PIN.match(req)
        if m and "extra ==" not in req:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def components() -> list[Component]:
    """The nine components in layer order, with pinned and installed versions."""
    pins = _pins()
    out = []
    for name in LAYERS:
        try:
            installed: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        out.append(Component(name, pins.get(name, "?"), installed))
    return out


def check_components() -> list[Component]:
    """Raise `ComponentVersionError` listing every component whose installed version differs from the pin.

    Set `TIERS_SKIP_VERSION_CHECK=1` to import anyway (at your own risk).
    """
    comps = components()
    bad = [c for c in comps if not c.ok]
    if bad and os.environ.get("TIERS_SKIP_VERSION_CHECK") != "1":
        lines = [f"  {c.name}: tiers pins =={c.pinned}, installed {c.installed or 'nothing'}" for c in bad]
        fix = " ".join(f"{c.name}=={c.pinned}" for c in bad)
        raise ComponentVersionError(
            "tiers was tested with exact component versions and found others installed:\n"
            + "\n".join(lines)
            + f"\nInstall the pinned ones (pip install {fix}) or set TIERS_SKIP_VERSION_CHECK=1."
        )
    return comps
