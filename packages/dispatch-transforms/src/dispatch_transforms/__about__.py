"""Version of the dispatch-transforms distribution."""

__version__ = "0.2.0"
