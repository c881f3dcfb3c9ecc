"""The two contracts of the Learner with other packages, as `typing.Protocol`s: the data and the optimizer.

The data protocol (datablock's `DataLoaders`, or a pair of plain torch `DataLoader`s wrapped as a
`DataLoaderPair`): only `train`/`valid` are required; every other member is optional and is its own small
protocol, checked with `isinstance` where it is used, so a feature that needs an absent member can say which.

| member | protocol | read by |
|---|---|---|
| `train`, `valid` | `DataProtocol` (required) | the loop, schedules, `lr_find`, `tta` |
| `n_inp` (default 1) | `HasNInp` | the loop (splitting batches), `predict`, `summary`, `SWA`, export |
| `to(device)`, `device` | `MovesToDevice`, `HasDevice` | the Learner: the data go where the model is |
| `one_batch()` | `HasOneBatch` | `summary` |
| `decode_batch(b)` | `DecodesBatch` | `predict` |
| `show_results(b, preds, ...)` | `ShowsResults` | `show_results` |
| `test_dl(items, with_labels=False)` | `HasTestDl` | `predict`, pickled export |
| `tta_dl(dl)` | `HasTtaDl` | `tta` (else the training loader's `new`) |
| `retype_targets(b)` | `RetypesTargets` | `get_preds` on unlabelled data |
| `vocab` | `HasVocab` | `Interpretation` |
| `to_config()` (and the class's `from_config`) | `Configurable` | `export` / `load_learner` |
| `loss_func` or `loss_kind` | (read with `getattr`: either may be set) | the Learner's default loss |

A loader (`dls.train`, a `get_preds` loader) may have `new(**kw)` (`Renewable`): a copy with other settings,
used to read a shuffled loader in order and to augment for `tta`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = [
    "DataProtocol",
    "HasNInp",
    "MovesToDevice",
    "HasDevice",
    "HasOneBatch",
    "DecodesBatch",
    "ShowsResults",
    "HasTestDl",
    "HasTtaDl",
    "RetypesTargets",
    "HasVocab",
    "Configurable",
    "Renewable",
    "OptimizerProtocol",
    "n_inp_of",
]


@runtime_checkable
class DataProtocol(Protocol):
    """What the Learner trains on: `train` and `valid` iterables of batches (tuples `(*inputs, *targets)`)."""

    train: Iterable[Any]
    valid: Iterable[Any]


@runtime_checkable
class HasNInp(Protocol):
    """How many leading elements of a batch are inputs (1 when absent)."""

    n_inp: int


@runtime_checkable
class MovesToDevice(Protocol):
    """Data that move their batches (and batch transforms) to a device."""

    def to(self, device: torch.device) -> Any: ...


@runtime_checkable
class HasDevice(Protocol):
    """Where the batches arrive (None: the CPU)."""

    device: Any


@runtime_checkable
class HasOneBatch(Protocol):
    def one_batch(self) -> Any: ...


@runtime_checkable
class DecodesBatch(Protocol):
    def decode_batch(self, b: Any) -> Any: ...


@runtime_checkable
class ShowsResults(Protocol):
    def show_results(self, b: Any, preds: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class HasTestDl(Protocol):
    def test_dl(self, items: Sequence[Any], with_labels: bool = False) -> Iterable[Any]: ...


@runtime_checkable
class HasTtaDl(Protocol):
    def tta_dl(self, dl: Iterable[Any]) -> Iterable[Any]: ...


@runtime_checkable
class RetypesTargets(Protocol):
    def retype_targets(self, b: Any) -> Any: ...


@runtime_checkable
class HasVocab(Protocol):
    vocab: Any


@runtime_checkable
class Configurable(Protocol):
    def to_config(self) -> Any: ...


@runtime_checkable
class Renewable(Protocol):
    """A loader that makes a copy of itself with other settings (`shuffle`, `drop_last`, `dataset`, ...)."""

    def new(self, **kwargs: Any) -> Iterable[Any]: ...


def n_inp_of(data: object) -> int:
    """The data's `n_inp`, 1 when it declares none."""
    return int(data.n_inp) if isinstance(data, HasNInp) else 1


@runtime_checkable
class OptimizerProtocol(Protocol):
    """The optimizer the Learner drives: a `torch.optim.Optimizer` with pluggable-optim's hyper-parameter API
    (`pluggable_optim.Optimizer`, or any torch optimizer in `pluggable_optim.OptimWrapper`)."""

    param_groups: list[dict[str, Any]]

    @property
    def hypers(self) -> list[dict[str, Any]]: ...

    def step(self, closure: Callable[[], Any] | None = None) -> Any: ...

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def set_hyper(self, name: str, value: Any) -> None: ...

    def freeze_to(self, n: int, keep: Iterable[torch.Tensor] = ()) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...
