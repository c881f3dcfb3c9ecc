"""Version of the gpu-augment distribution."""

__version__ = "0.2.0"
