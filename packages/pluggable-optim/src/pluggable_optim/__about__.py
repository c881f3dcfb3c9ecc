"""Version of the pluggable-optim distribution."""

__version__ = "0.2.0"
