"""apps_tabular: tabular models and collaborative filtering in a few lines."""

from apps_tabular.__about__ import __version__
from apps_tabular.collab import CollabDataLoaders, EmbeddingDotBias, EmbeddingNN, TabularCollab, collab_learner
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
from apps_tabular.datasets import PlantedRatings, synthetic_census, synthetic_ratings
from apps_tabular.learner import TabularLearner, tabular_learner
from apps_tabular.model import TabularModel, emb_sz_rule, get_emb_sz, tabular_config
from apps_tabular.procs import NA, RARE, Categorify, FillMissing, TabularNormalize, TabularProc
from datablock import Normalize  # the same object as datablock's: in procs it means TabularNormalize (README)

__all__ = [
    "__version__",
    # columns
    "cont_cat_split",
    "df_shrink",
    "df_shrink_dtypes",
    "make_date",
    "add_datepart",
    "add_elapsed_times",
    # preprocessing
    "TabularPandas",
    "TabularDataset",
    "TabularProc",
    "Categorify",
    "FillMissing",
    "TabularNormalize",
    "Normalize",
    "NA",
    "RARE",
    # loading
    "TabularDataLoader",
    "TabularDataLoaders",
    # models and learners
    "TabularModel",
    "tabular_config",
    "get_emb_sz",
    "emb_sz_rule",
    "TabularLearner",
    "tabular_learner",
    # collaborative filtering
    "TabularCollab",
    "CollabDataLoaders",
    "EmbeddingDotBias",
    "EmbeddingNN",
    "collab_learner",
    # data that ships
    "synthetic_census",
    "synthetic_ratings",
    "PlantedRatings",
]
