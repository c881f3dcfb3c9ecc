"""`DataLoaders`: the train and valid loaders together, and the data protocol the Learner reads by duck typing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from datablock._pipe import as_pipeline
from datablock.config import pipeline_from_config, pipeline_to_config
from datablock.loader import DataLoader
from typedtensor import Canvas

__all__ = ["DataLoaders"]

CONFIG_FORMAT = "datablock.DataLoaders/1"


class DataLoaders:
    """Several `DataLoader`s (training first, then validation) with one device and one set of helpers.

    Implements the data protocol of the tiers Learner: `train`, `valid`, `n_inp`, `device`/`to`,
    `one_batch`, `decode_batch`, `show_batch`, `show_results`, `test_dl`, `vocab`, `new`,
    `to_config`/`from_config`.
    """

    def __init__(self, *loaders: DataLoader, device: torch.device | str | None = None) -> None:
        if not loaders:
            raise ValueError("DataLoaders: give at least a training DataLoader")
        self.loaders = list(loaders)
        if device is not None:
            self.to(device)

    @classmethod
    def from_dsets(
        cls,
        *dsets: Any,
        bs: int = 64,
        shuffle_train: bool = True,
        drop_last: bool | None = None,
        device: torch.device | str | None = None,
        after_item: Any = None,
        before_batch: Any = None,
        after_batch: Any = None,
        dl_type: type[DataLoader] = DataLoader,
        **kwargs: Any,
    ) -> DataLoaders:
        """Loaders over datasets: one `Datasets` with splits gives train and valid; or pass each dataset.

        The training loader shuffles and drops its last partial batch (`drop_last` defaults to
        `shuffle_train`); the others keep order and every item. Item and batch transforms run with
        `split_idx` 0 on training and 1 elsewhere, so training-only augmentations skip validation.
        """
        if len(dsets) == 1 and getattr(dsets[0], "n_subsets", 0) >= 2:
            dsets = tuple(dsets[0].subset(k) for k in range(dsets[0].n_subsets))
        if not dsets:
            raise ValueError("DataLoaders.from_dsets: no datasets given")
        if len(dsets[0]) == 0:
            raise ValueError(
                "DataLoaders: the training set is empty: every item went to validation (or the source has "
                "no items); check the splitter and get_items"
            )
        loaders = []
        for k, ds in enumerate(dsets):
            train = k == 0
            split = 0 if train else 1
            loaders.append(
                dl_type(
                    ds,
                    bs=bs,
                    shuffle=shuffle_train and train,
                    drop_last=(shuffle_train if drop_last is None else drop_last) and train,
                    device=device,
                    after_item=as_pipeline(after_item, split_idx=split),
                    before_batch=as_pipeline(before_batch, split_idx=split),
                    after_batch=as_pipeline(after_batch, split_idx=split),
                    **kwargs,
                )
            )
        return cls(*loaders)

    # --- members of the protocol ----------------------------------------------------------------------------
    def __getitem__(self, i: int) -> DataLoader:
        return self.loaders[i]

    def __len__(self) -> int:
        return len(self.loaders)

    def __iter__(self) -> Iterator[DataLoader]:
        return iter(self.loaders)

    @property
    def train(self) -> DataLoader:
        """The training loader."""
        return self.loaders[0]

    @property
    def valid(self) -> DataLoader:
        """The validation loader."""
        if len(self.loaders) < 2:
            raise AttributeError("DataLoaders.valid: there is no validation loader (only one loader was given)")
        return self.loaders[1]

    @property
    def train_ds(self) -> Any:
        """The training dataset."""
        return self.train.dataset

    @property
    def valid_ds(self) -> Any:
        """The validation dataset."""
        return self.valid.dataset

    @property
    def n_inp(self) -> int:
        """How many leading elements of a batch are inputs."""
        return self.train.n_inp

    @property
    def vocab(self) -> Any:
        """The target vocab (from the training dataset's `Categorize`)."""
        return self.train.vocab

    @property
    def c(self) -> int:
        """The number of model outputs the targets call for: the vocab's length, or `RegressionSetup.c`."""
        try:
            return len(self.vocab)
        except AttributeError:
            pass
        for tl in reversed(getattr(self.train_ds, "tls", [])):
            for t in tl.tfms.fs:
                if isinstance(getattr(t, "c", None), int):
                    return t.c
        raise AttributeError("DataLoaders.c: the targets have neither a vocab nor a known number of outputs")

    @property
    def device(self) -> torch.device | None:
        """Where batches arrive (None: where they were built, the CPU)."""
        return self.train.device

    def to(self, device: torch.device | str) -> DataLoaders:
        """Send every loader's batches to `device` (in place; returns self)."""
        for dl in self.loaders:
            dl.to(device)
        return self

    def cpu(self) -> DataLoaders:
        """Batches on the CPU."""
        return self.to("cpu")

    def one_batch(self) -> Any:
        """A training batch."""
        return self.train.one_batch()

    def _decoder(self) -> DataLoader:
        return self.loaders[1] if len(self.loaders) > 1 else self.loaders[0]

    def decode_batch(self, b: Any, max_n: int = 9, full: bool = True) -> list[Any]:
        """A batch back to readable items (through the validation pipelines)."""
        return self._decoder().decode_batch(b, max_n=max_n, full=full)

    def show_batch(self, b: Any = None, max_n: int = 9, ncols: int = 3, scale: int = 1) -> Canvas:
        """A grid picture of a training batch (or of `b`); save it with `.save("batch.png")`."""
        return self.train.show_batch(b, max_n=max_n, ncols=ncols, scale=scale)

    def show_results(self, b: Any, preds: Any, max_n: int = 9, ncols: int = 3, scale: int = 1) -> Canvas:
        """A grid of samples of `b` titled `target / prediction`."""
        return self._decoder().show_results(b, preds, max_n=max_n, ncols=ncols, scale=scale)

    def test_dl(self, items: Sequence[Any], with_labels: bool = False, **kwargs: Any) -> DataLoader:
        """Raw `items` through the validation pipelines (no training-only transforms), in order.

        With `with_labels=False` only the input pipelines run (the items need no label).
        """
        ref = self._decoder()
        new = getattr(ref.dataset, "new", None)
        if new is None:
            raise AttributeError(
                f"DataLoaders.test_dl: the dataset ({type(ref.dataset).__name__}) has no new(items, split_idx) "
                "method, so raw items cannot be run through its pipeline"
            )
        ds = new(items, split_idx=1, with_labels=with_labels)
        return ref.new(dataset=ds, shuffle=False, drop_last=False, sampler=None, batch_sampler=None, **kwargs)

    def new(self, **kwargs: Any) -> DataLoaders:
        """A copy whose loaders all have some settings changed (e.g. `bs`, `num_workers`, `sampler`)."""
        return type(self)(*(dl.new(**kwargs) for dl in self.loaders))

    # --- export ---------------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """The pipelines as plain data (JSON-ready): rebuild with `DataLoaders.from_config` without pickle."""
        ref = self._decoder()
        tls = getattr(ref.dataset, "tls", None)
        if tls is None:
            raise AttributeError("DataLoaders.to_config: the dataset is not a Datasets (it has no pipelines)")
        return {
            "format": CONFIG_FORMAT,
            "n_inp": self.n_inp,
            "bs": ref.bs,
            "pipelines": [pipeline_to_config(tl.tfms) for tl in tls],
            "after_item": pipeline_to_config(ref.after_item),
            "before_batch": pipeline_to_config(ref.before_batch),
            "after_batch": pipeline_to_config(ref.after_batch),
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any], device: torch.device | str | None = None) -> DataLoaders:
        """DataLoaders (with no items) whose pipelines come from `to_config()`: ready for `test_dl` and decoding."""
        from datablock.tfmdlists import Datasets, TfmdLists

        if cfg.get("format") != CONFIG_FORMAT:
            raise ValueError(f"DataLoaders.from_config: expected format {CONFIG_FORMAT!r}, got {cfg.get('format')!r}")
        loaders = []
        for split in (0, 1):
            tls = [
                TfmdLists([], pipeline_from_config(p, split, whole_items=True), split_idx=split, do_setup=False)
                for p in cfg["pipelines"]
            ]
            loaders.append(
                DataLoader(
                    Datasets(tls=tls, n_inp=cfg["n_inp"]),
                    bs=cfg.get("bs", 64),
                    device=device,
                    after_item=pipeline_from_config(cfg["after_item"], split),
                    before_batch=pipeline_from_config(cfg["before_batch"], split),
                    after_batch=pipeline_from_config(cfg["after_batch"], split),
                )
            )
        return cls(*loaders)

    def __repr__(self) -> str:
        return "DataLoaders(" + ", ".join(repr(dl) for dl in self.loaders) + ")"
