"""Version of the trainloop-callbacks distribution."""

__version__ = "0.2.0"
