"""Version of the apps-text distribution."""

__version__ = "0.2.0"
