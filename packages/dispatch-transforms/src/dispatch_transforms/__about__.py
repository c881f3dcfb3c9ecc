"""Version of the dispatch-transforms distribution."""

__version__ = "0.1.0"
