"""The extension point, used the way another package would: from a separate module."""

import importlib
from pathlib import Path

import pytest

from dispatch_transforms import Transform


@pytest.fixture
def modules(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    owner = importlib.import_module("dt_ext_owner")
    before = owner.ToKelvin()
    cached = before(owner.Celsius(0.0))  # fills the cache before the plugin registers
    plugin = importlib.import_module("dt_ext_plugin")
    return owner, plugin, before, cached


def test_registration_from_another_module_extends_the_class(modules):
    owner, plugin, before, cached = modules
    tfm = owner.ToKelvin()
    assert cached == pytest.approx(273.15)
    assert tfm(plugin.Fahrenheit(212.0)) == pytest.approx(373.15)
    assert before(plugin.Fahrenheit(32.0)) == pytest.approx(273.15)  # existing instances see it too (cache reset)
    assert tfm(owner.Celsius(100.0)) == pytest.approx(373.15)
    assert "Fahrenheit" in repr(tfm) and "Celsius" in repr(tfm)
    assert "_fahrenheit_to_kelvin" not in dir(owner.ToKelvin)  # nothing was set on the class


def test_registration_reaches_subclasses_but_not_siblings(modules):
    owner, plugin, _, _ = modules

    class Sub(owner.ToKelvin):
        pass

    class Sibling(Transform):
        pass

    assert Sub()(plugin.Fahrenheit(32.0)) == pytest.approx(273.15)
    temp = plugin.Fahrenheit(32.0)
    assert Sibling()(temp) is temp


def test_bad_registration_fails_where_it_is_written():
    class Owner(Transform):
        pass

    with pytest.raises(TypeError, match=r"expected a function"):
        Owner.encodes.dispatch(42)
