"""apps_tabular: tabular models and collaborative filtering in a few lines."""

from apps_tabular.__about__ import __version__
from apps_tabular.columns import cont_cat_split

__all__ = ["__version__", "cont_cat_split"]
