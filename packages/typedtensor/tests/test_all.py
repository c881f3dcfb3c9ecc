import typedtensor
import typedtensor.all as everything


def test_all_module_exports_every_public_name_of_the_package():
    public = set(typedtensor.__all__) - {"__version__"}
    assert public <= set(everything.__all__)
    for name in everything.__all__:
        assert getattr(everything, name) is not None
    assert everything.TensorPoint is typedtensor.TensorPoint
