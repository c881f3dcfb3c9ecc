"""`compile_learner` (`learn.compile(**kw)`): the model's forward compiled in place with `torch.compile`."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["compile_learner"]

_COMPILE_ARGS = frozenset(p for p in inspect.signature(torch.compile).parameters if p != "model")


def compile_learner(learn: Learner, **torch_compile_kwargs: Any) -> Learner:
    """Compile `learn.model`'s forward with `torch.compile(**torch_compile_kwargs)`, in place (`Module.compile`).

    The module object, its parameters and its `state_dict` keys stay the same, so the optimizer, checkpoints,
    export, hooks and `freeze`/`unfreeze` keep working. Freezing changes which parameters require grad: the
    compiled code guards on that and recompiles for the new setting (once per distinct setting); discriminative
    learning rates live in the optimizer and do not touch the compiled graph.
    """
    unknown = sorted(set(torch_compile_kwargs) - _COMPILE_ARGS)
    if unknown:
        raise TypeError(
            f"compile: unknown torch.compile argument(s) {unknown}; expected some of {sorted(_COMPILE_ARGS)}"
        )
    learn.model.compile(**torch_compile_kwargs)
    learn.compile_kwargs = dict(torch_compile_kwargs)
    return learn
