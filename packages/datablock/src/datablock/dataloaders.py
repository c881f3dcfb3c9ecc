"""`DataLoaders`: the train and valid loaders together, and the data protocol the Learner reads by duck typing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from datablock._pipe import as_pipeline
from datablock.config import (
    SafeResolver,
    _data,
    _from_data,
    _init_params,
    _is_default,
    _qualname,
    _unmarked,
    is_config_safe,
    pipeline_from_config,
    pipeline_to_config,
)
from datablock.loader import DataLoader
from datablock.losskind import check_loss_kind

__all__ = ["DataLoaders"]

CONFIG_FORMAT = "datablock.DataLoaders/2"
_HOOKS = ("after_item", "before_batch", "after_batch")

# loader arguments an export does not keep: the data, the transforms (written as pipelines), where batches
# go, and what only matters for iterating a training set (order, workers)
_LOADER_RUNTIME_ARGS = frozenset(
    {
        "dataset",
        "device",
        "after_item",
        "before_batch",
        "after_batch",
        "shuffle",
        "drop_last",
        "sampler",
        "batch_sampler",
        "generator",
        "num_workers",
        "pin_memory",
        "persistent_workers",
        "prefetch_factor",
        "timeout",
        "worker_init_fn",
        "multiprocessing_context",
    }
)


class DataLoaders:
    """Several `DataLoader`s (training first, then validation) with one device and one set of helpers.

    Implements the data protocol of the tiers Learner: `train`, `valid`, `n_inp`, `device`/`to`,
    `one_batch`, `decode_batch`, `show_batch`, `show_results`, `test_dl`, `vocab`, `new`,
    `to_config`/`from_config`; and what the data says about the model: `loss_kind` and `c` (given here,
    e.g. by a `DataBlock` from its target block, or else read from the target pipelines).
    """

    config_safe = True  # load_learner may rebuild it (and its subclasses) through from_config

    def __init__(
        self,
        *loaders: DataLoader,
        device: torch.device | str | None = None,
        loss_kind: str | dict[str, Any] | None = None,
        c: int | None = None,
    ) -> None:
        if not loaders:
            raise ValueError("DataLoaders: give at least a training DataLoader")
        self.loaders = list(loaders)
        self._loss_kind = check_loss_kind(loss_kind, "DataLoaders(loss_kind=)")
        self._c = c
        if device is not None:
            self.to(device)

    @classmethod
    def from_dsets(
        cls,
        *dsets: Any,
        bs: int = 64,
        val_bs: int | None = None,
        shuffle_train: bool = True,
        drop_last: bool | None = None,
        device: torch.device | str | None = None,
        after_item: Any = None,
        before_batch: Any = None,
        after_batch: Any = None,
        dl_type: type[DataLoader] = DataLoader,
        loss_kind: str | dict[str, Any] | None = None,
        c: int | None = None,
        dl_kwargs: Sequence[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> DataLoaders:
        """Loaders over datasets: one `Datasets` with splits gives train and valid; or pass each dataset.

        The training loader shuffles and drops its last partial batch (`drop_last` defaults to
        `shuffle_train`); the others keep order and every item. Item and batch transforms run with
        `split_idx` 0 on training and 1 elsewhere, so training-only augmentations skip validation.

        Per split: `val_bs` is the batch size of the loaders after the first (default `bs`); `dl_kwargs`, one
        dict per dataset, overrides any loader argument for that loader only (e.g. a validation
        `batch_sampler`, `dl_kwargs=[{}, {"batch_sampler": buckets}]`).
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
        if dl_kwargs is not None and len(dl_kwargs) != len(dsets):
            raise ValueError(
                f"DataLoaders.from_dsets: {len(dl_kwargs)} dl_kwargs for {len(dsets)} datasets; give one dict each"
            )
        loaders = []
        for k, ds in enumerate(dsets):
            train = k == 0
            split = 0 if train else 1
            args = {
                "bs": bs if train or val_bs is None else val_bs,
                "shuffle": shuffle_train and train,
                "drop_last": (shuffle_train if drop_last is None else drop_last) and train,
                "device": device,
                "after_item": as_pipeline(after_item, split_idx=split),
                "before_batch": as_pipeline(before_batch, split_idx=split),
                "after_batch": as_pipeline(after_batch, split_idx=split),
                **kwargs,
                **(dl_kwargs[k] if dl_kwargs is not None else {}),
            }
            if "batch_sampler" in args and args["batch_sampler"] is not None:  # it decides batches and order
                args["shuffle"], args["drop_last"] = False, False
            loaders.append(dl_type(ds, **args))
        return cls(*loaders, loss_kind=loss_kind, c=c)

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
    def loss_kind(self) -> dict[str, Any] | None:
        """The loss the target needs, as plain data (`{"kind": ..., "axis": ...}`, see `check_loss_kind`), or None.

        Given at creation (a `DataBlock` passes its target block's), else declared by the transforms of the
        one target pipeline (`Categorize.loss_kind`...); None when there are several targets or none says.
        """
        if self._loss_kind is not None:
            return dict(self._loss_kind)
        tls = getattr(self.train_ds, "tls", None)
        targets = [] if tls is None else tls[self.n_inp :]
        if len(targets) != 1:
            return None
        kind = next((t.loss_kind for t in reversed(targets[0].tfms.fs) if hasattr(t, "loss_kind")), None)
        return check_loss_kind(kind)

    @property
    def c(self) -> int:
        """The number of model outputs the targets call for: given at creation, else the vocab's length, or
        `RegressionSetup.c`."""
        if self._c is not None:
            return self._c
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

    def show_batch(self, b: Any = None, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = False) -> Any:
        """A grid picture of a training batch (or of `b`); save it with `.save("batch.png")` (`table`: a DataFrame)."""
        return self.train.show_batch(b, max_n=max_n, ncols=ncols, scale=scale, table=table)

    def show_results(
        self, b: Any, preds: Any, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = False
    ) -> Any:
        """A grid of samples of `b` titled `target / prediction` (`table=True`: a DataFrame with `_pred` columns)."""
        return self._decoder().show_results(b, preds, max_n=max_n, ncols=ncols, scale=scale, table=table)

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

    def add_tfms(self, tfms: Any, event: str, loaders: int | Sequence[int] | None = None) -> None:
        """Add `tfms` to hook `event` ('after_item', 'before_batch', 'after_batch') of `loaders` (indices;
        default all), e.g. a vision learner adding its pretrained weights' `Normalize` to `after_batch`.

        They run as split 0 on the training loader and 1 on the others, like the transforms given at creation.
        """
        idxs = range(len(self.loaders)) if loaders is None else [loaders] if isinstance(loaders, int) else loaders
        for k in idxs:
            self.loaders[k].add_tfms(tfms, event, split_idx=0 if k == 0 else 1)

    def new(self, **kwargs: Any) -> DataLoaders:
        """A copy whose loaders all have some settings changed (e.g. `bs`, `num_workers`, `sampler`)."""
        return type(self)(*(dl.new(**kwargs) for dl in self.loaders), loss_kind=self._loss_kind, c=self._c)

    def retype_targets(self, ys: Any) -> Any:
        """Plain tensors among the targets `ys` (one tensor, or a tuple with one per target) typed as the target
        pipelines decode them (`TensorCategory`, `TensorMultiCategory`, a mask...); typed ones are kept.

        The Learner calls this on predictions of unlabelled data (`get_preds` on a `test_dl`), so decoded
        predictions carry the targets' types and decode to labels.
        """
        ref = self._decoder()
        single = not isinstance(ys, tuple)
        typed = ref.retype_targets((*([None] * ref.n_inp), *((ys,) if single else ys)))[ref.n_inp :]
        return typed[0] if single else typed

    # --- export ---------------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """The pipelines as plain data (JSON-ready): rebuild with `DataLoaders.from_config` without pickle.

        Training-only steps (`split_idx == 0`, random augmentations) are left out: inference never runs them.
        The loader class (`dl_type`) and its constructor arguments (other than the data, the transforms and
        the training-order settings) are kept.
        """
        ref = self._decoder()
        tls = getattr(ref.dataset, "tls", None)
        if tls is None:
            raise AttributeError("DataLoaders.to_config: the dataset is not a Datasets (it has no pipelines)")
        dl_type = type(ref)
        if not is_config_safe(dl_type):
            raise _unmarked(_qualname(dl_type), "loader class")
        dl_kwargs = {}
        for p in _init_params(dl_type):
            if p.name in _LOADER_RUNTIME_ARGS:
                continue
            kwargs = getattr(ref, "init_kwargs", {})
            value = kwargs[p.name] if p.name in kwargs else getattr(ref, p.name, p.default)
            if _is_default(value, p.default) or (p.name == "n_inp" and value is None):
                continue
            dl_kwargs[p.name] = _data(value, f"argument {p.name!r} of the loader {dl_type.__qualname__}")
        return {
            "format": CONFIG_FORMAT,
            "n_inp": self.n_inp,
            "dl_type": None if dl_type is DataLoader else _qualname(dl_type),
            "dl_kwargs": dl_kwargs,
            "pipelines": [
                pipeline_to_config(tl.tfms, skip_train_only=True, omit_label_getters=i >= self.n_inp)
                for i, tl in enumerate(tls)
            ],
            "after_item": pipeline_to_config(ref.after_item, skip_train_only=True),
            "before_batch": pipeline_to_config(ref.before_batch, skip_train_only=True),
            "after_batch": pipeline_to_config(ref.after_batch, skip_train_only=True),
            **self._model_info(),
        }

    def _model_info(self) -> dict[str, Any]:
        """`loss_kind` and `c` for the config (c None when the data does not say)."""
        try:
            c = self.c
        except AttributeError:
            c = None
        return {"loss_kind": self.loss_kind, "c": c}

    @classmethod
    def from_config(
        cls,
        cfg: dict[str, Any],
        device: torch.device | str | None = None,
        allow: Sequence[str] = (),
        near: Any = None,
    ) -> DataLoaders:
        """DataLoaders (with no items) whose pipelines come from `to_config()`: ready for `test_dl` and decoding.

        Every name in `cfg` resolves only to a class or function marked `config_safe` in an installed module
        of the tiers packages or of `allow` (see `datablock.resolver`); `near` is the folder of the file `cfg`
        was read from, never a source of modules.
        """
        from datablock.tfmdlists import Datasets, TfmdLists

        if not isinstance(cfg, dict) or cfg.get("format") != CONFIG_FORMAT:
            found = cfg.get("format") if isinstance(cfg, dict) else type(cfg).__name__
            raise ValueError(f"DataLoaders.from_config: expected format {CONFIG_FORMAT!r}, got {found!r}")
        resolver = SafeResolver(allow, near=near)
        dl_type = DataLoader if cfg.get("dl_type") is None else resolver.resolve(cfg["dl_type"], kind="class")
        if not (isinstance(dl_type, type) and issubclass(dl_type, DataLoader)):
            raise ValueError(f"DataLoaders.from_config: {cfg['dl_type']!r} is not a datablock DataLoader class")
        dl_kwargs = _from_data(cfg.get("dl_kwargs", {}), resolver)
        if not isinstance(dl_kwargs, dict) or _LOADER_RUNTIME_ARGS & set(dl_kwargs):
            raise ValueError("DataLoaders.from_config: dl_kwargs must be a dict of the loader's other arguments")
        pipes = [pipeline_from_config(p, None, whole_items=True, resolver=resolver) for p in cfg["pipelines"]]
        hooks = {k: pipeline_from_config(cfg[k], None, resolver=resolver) for k in _HOOKS}
        loaders = []
        for split in (0, 1):
            tls = [TfmdLists([], p, split_idx=split, do_setup=False) for p in pipes]
            loaders.append(
                dl_type(
                    Datasets(tls=tls, n_inp=cfg["n_inp"]),
                    device=device,
                    **{k: as_pipeline(h, split_idx=split) for k, h in hooks.items()},
                    **dl_kwargs,
                )
            )
        return cls(*loaders, loss_kind=cfg.get("loss_kind"), c=cfg.get("c"))

    def __repr__(self) -> str:
        return "DataLoaders(" + ", ".join(repr(dl) for dl in self.loaders) + ")"
