"""Version of the typedtensor distribution."""

__version__ = "0.2.0"
