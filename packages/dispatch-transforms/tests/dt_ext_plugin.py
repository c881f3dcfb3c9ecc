"""Stands in for another package: adds its own type to ToKelvin without touching the class body."""

from dt_ext_owner import ToKelvin


class Fahrenheit(float):
    """A temperature type only this module knows."""


@ToKelvin.encodes.dispatch
def _fahrenheit_to_kelvin(self, x: Fahrenheit) -> float:
    return (float(x) - 32.0) * 5.0 / 9.0 + 273.15
