"""tiers: the full stack, every component at an exactly pinned, tested version.

Importing tiers checks that the installed components are the pinned versions and
raises `ComponentVersionError` naming each mismatch otherwise.
"""

from tiers.__about__ import __version__
from tiers.versions import LAYERS, Component, ComponentVersionError, check_components, components

check_components()

__all__ = ["LAYERS", "Component", "ComponentVersionError", "__version__", "check_components", "components"]
