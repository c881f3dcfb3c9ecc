"""datablock: Datasets, a fast DataLoader and the DataBlock API."""

from datablock.__about__ import __version__
from datablock.blocks import CategoryBlock, MultiCategoryBlock, RegressionBlock, TransformBlock
from datablock.collate import collate, decollate
from datablock.convert import Conversion, to_tensor
from datablock.datablock import DataBlock
from datablock.dataloaders import DataLoaders
from datablock.errors import CollateError, ItemError, SkipItem
from datablock.external import download_url, file_sha256, tiers_home, untar_data, write_folder_once
from datablock.getters import AttrGetter, ColReader, FileGetter, ItemGetter, get_files
from datablock.labellers import RegexLabeller, parent_label
from datablock.loader import EVENTS, DataLoader
from datablock.losskind import LOSS_KINDS, check_loss_kind
from datablock.padding import PadInput
from datablock.parallel import parallel_gen, parallel_map, with_progress
from datablock.resolver import TIERS_PACKAGES, ConfigError, SafeResolver, config_safe
from datablock.splitters import (
    ColSplitter,
    EndSplitter,
    FileSplitter,
    FuncSplitter,
    GrandparentSplitter,
    IndexSplitter,
    KFoldSplitter,
    MaskSplitter,
    RandomSplitter,
    RandomSubsetSplitter,
    TrainTestSplitter,
)
from datablock.tfmdlists import Datasets, TfmdLists
from datablock.transforms import (
    Categorize,
    EncodedMultiCategorize,
    IntToFloatTensor,
    MultiCategorize,
    Normalize,
    OneHotEncode,
    RegressionSetup,
    ToTensor,
)
from datablock.utils import listify
from datablock.vocab import Category, CategoryMap, MultiCategory

__all__ = [
    "__version__",
    # the DataBlock API
    "DataBlock",
    "TransformBlock",
    "CategoryBlock",
    "MultiCategoryBlock",
    "RegressionBlock",
    # datasets and loaders
    "TfmdLists",
    "Datasets",
    "DataLoader",
    "DataLoaders",
    "collate",
    "decollate",
    "PadInput",
    "EVENTS",
    # what the data says about the model
    "check_loss_kind",
    "LOSS_KINDS",
    # getters and labellers
    "get_files",
    "FileGetter",
    "ItemGetter",
    "AttrGetter",
    "ColReader",
    "RegexLabeller",
    "parent_label",
    # splitters
    "RandomSplitter",
    "TrainTestSplitter",
    "IndexSplitter",
    "EndSplitter",
    "GrandparentSplitter",
    "FuncSplitter",
    "MaskSplitter",
    "FileSplitter",
    "ColSplitter",
    "RandomSubsetSplitter",
    "KFoldSplitter",
    # type transforms
    "to_tensor",
    "Conversion",
    "ToTensor",
    "IntToFloatTensor",
    "Normalize",
    "Categorize",
    "MultiCategorize",
    "OneHotEncode",
    "EncodedMultiCategorize",
    "RegressionSetup",
    "CategoryMap",
    "Category",
    "MultiCategory",
    # data access
    "download_url",
    "untar_data",
    "tiers_home",
    "write_folder_once",
    "file_sha256",
    # errors and helpers
    "SkipItem",
    "ItemError",
    "CollateError",
    "parallel_map",
    "parallel_gen",
    "with_progress",
    "listify",
    # safe export of pipelines
    "config_safe",
    "SafeResolver",
    "ConfigError",
    "TIERS_PACKAGES",
]
