"""Version of the apps-vision distribution."""

__version__ = "0.2.0"
