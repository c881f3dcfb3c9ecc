"""Version of the trainloop-callbacks distribution."""

__version__ = "0.1.0"
