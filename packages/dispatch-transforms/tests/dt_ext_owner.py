"""Stands in for a package that owns a Transform (imported by test_extension.py; not a test module)."""

from dispatch_transforms import Transform


class Celsius(float):
    """A temperature type the owner knows."""


class ToKelvin(Transform):
    """Converts the temperature types it knows to kelvin, and back."""

    def encodes(self, x: Celsius):
        return float(x) + 273.15

    def decodes(self, x: float) -> float:
        return x - 273.15
