"""Version of the tiers meta-distribution."""

__version__ = "0.2.0"
