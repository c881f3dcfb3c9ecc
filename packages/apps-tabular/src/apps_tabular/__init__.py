"""apps_tabular: tabular models and collaborative filtering in a few lines."""

from apps_tabular.__about__ import __version__
from apps_tabular.columns import (
    add_datepart,
    add_elapsed_times,
    cont_cat_split,
    df_shrink,
    df_shrink_dtypes,
    make_date,
)
from apps_tabular.core import TabularDataset, TabularPandas
from apps_tabular.data import TabularDataLoader, TabularDataLoaders
from apps_tabular.procs import NA, RARE, Categorify, FillMissing, TabularNormalize, TabularProc
from datablock import Normalize  # the same object as datablock's: in procs it means TabularNormalize (README)

__all__ = [
    "__version__",
    "cont_cat_split",
    "df_shrink",
    "df_shrink_dtypes",
    "make_date",
    "add_datepart",
    "add_elapsed_times",
    "TabularPandas",
    "TabularDataset",
    "TabularDataLoader",
    "TabularDataLoaders",
    "TabularProc",
    "Categorify",
    "FillMissing",
    "TabularNormalize",
    "Normalize",
    "NA",
    "RARE",
]
