"""The duck-typed data protocol: anything with `.train`/`.valid`, or a pair of torch DataLoaders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trainloop_callbacks.loop.protocols import DataProtocol

__all__ = ["DataLoaderPair", "as_dataloaders"]


class DataLoaderPair:
    """Two plain iterables of batches (e.g. `torch.utils.data.DataLoader`s) seen through the data protocol."""

    n_inp: int = 1

    def __init__(self, train: Iterable[Any], valid: Iterable[Any]) -> None:
        self.train, self.valid = train, valid

    def __getitem__(self, i: int) -> Iterable[Any]:
        return (self.train, self.valid)[i]

    def __repr__(self) -> str:
        return f"DataLoaderPair(train={self.train!r}, valid={self.valid!r})"


def as_dataloaders(dls: Any) -> DataProtocol:
    """Return `dls` if it follows the data protocol, a `DataLoaderPair` for a `(train, valid)` pair."""
    if isinstance(dls, (tuple, list)):
        if len(dls) != 2:
            raise TypeError(f"dls as a sequence must be a pair (train_dl, valid_dl), got {len(dls)} items")
        return DataLoaderPair(*dls)
    if isinstance(dls, DataProtocol):
        return dls
    raise TypeError(
        "dls must have .train and .valid iterables of batches, or be a pair (train_dl, valid_dl); "
        f"got {type(dls).__name__}"
    )
