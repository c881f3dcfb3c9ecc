"""Version of the datablock distribution."""

__version__ = "0.2.0"
