"""Version of the apps-tabular distribution."""

__version__ = "0.2.0"
