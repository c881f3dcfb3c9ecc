"""`TechniquesMixin`: the one-line training techniques as `Learner` methods (precision, summary, compile, DDP, TTA).

Each method is a thin front to the module that implements the technique, so `learn.to_bf16()` and
`mixed_precision.to_bf16(learn)` are the same call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from torch import Tensor

from trainloop_callbacks.callbacks import mixed_precision
from trainloop_callbacks.callbacks.compiled import compile_learner
from trainloop_callbacks.distributed import distrib_ctx
from trainloop_callbacks.inference.tta import tta
from trainloop_callbacks.models.summary import ModelSummary, learner_summary

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["TechniquesMixin"]


class TechniquesMixin:
    """`to_fp16`, `to_bf16`, `to_fp32`, `summary`, `compile`, `distrib_ctx` and `tta` of `Learner`."""

    def to_fp16(self: Learner, **kwargs: Any) -> Learner:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Train in fp16 mixed precision (autocast plus a GradScaler); `kwargs` go to `MixedPrecision`
        (e.g. `init_scale`). A step skipped on gradient overflow does not advance the schedule."""
        return mixed_precision.to_fp16(self, **kwargs)

    def to_bf16(self: Learner) -> Learner:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Train in bf16 mixed precision (autocast, no loss scaling); works on CPU too."""
        return mixed_precision.to_bf16(self)

    def to_fp32(self: Learner) -> Learner:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Train in full fp32 again: removes `MixedPrecision`."""
        return mixed_precision.to_fp32(self)

    def summary(self: Learner) -> ModelSummary:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Each layer's output shape and parameter count for one training batch, plus optimizer, loss and
        callbacks; `print(learn.summary())` shows the table, `.rows` holds one `LayerInfo` per layer call."""
        return learner_summary(self)

    def compile(self: Learner, **torch_compile_kwargs: Any) -> Learner:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Compile the model's forward in place with `torch.compile(**torch_compile_kwargs)`; checkpoints,
        `freeze`/`unfreeze` and discriminative learning rates keep working."""
        return compile_learner(self, **torch_compile_kwargs)

    @contextlib.contextmanager
    def distrib_ctx(self: Learner, sync_bn: bool = True, backend: str | None = None) -> Iterator[Learner]:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Inside the block, train distributed (DDP) when launched with `torchrun`; a no-op in one process."""
        with distrib_ctx(self, sync_bn=sync_bn, backend=backend) as learn:
            yield learn

    def tta(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        ds_idx: int = 1,
        dl: Iterable[Any] | None = None,
        n: int = 4,
        beta: float | None = 0.25,
        use_max: bool = False,
        aug: Callable[[Any], Any] | None = None,
    ) -> tuple[Tensor, Any]:
        """Test-time augmentation: the mean (or max with `use_max`) of `n` augmented passes, blended as
        `beta * plain + (1 - beta) * augmented` (`beta=None`: augmented only); returns `(preds, targets)`."""
        return tta(self, ds_idx=ds_idx, dl=dl, n=n, beta=beta, use_max=use_max, aug=aug)
