"""Version of the typedtensor distribution."""

__version__ = "0.1.0"
