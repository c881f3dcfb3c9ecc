"""Model utilities the applications share: output sizes by a dummy pass, input channels, parameters, resetting."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.models.hooks import hook_outputs

__all__ = ["in_channels", "dummy_eval", "model_sizes", "num_features_model", "params_of", "ModelResetter"]


def in_channels(m: nn.Module) -> int:
    """Input channels of the first 2-D convolution-like layer of `m` (the first module, in `m.modules()` order,
    whose `weight` has 4 dimensions), as fastai's `in_channels`."""
    for layer in m.modules():
        w = getattr(layer, "weight", None)
        if isinstance(w, Tensor) and w.ndim == 4:
            return int(w.shape[1])
    raise ValueError(f"in_channels: {type(m).__name__} has no layer with a 4-dimensional weight (a 2-D convolution)")


def _first_param(m: nn.Module) -> Tensor:
    for p in m.parameters():
        return p
    raise ValueError(f"{type(m).__name__} has no parameters: cannot tell the device and dtype of a dummy input")


def dummy_eval(m: nn.Module, size: Sequence[int] = (64, 64)) -> Tensor:
    """`m`'s output for one image of `size` with `in_channels(m)` channels, uniform in [-1, 1], on `m`'s device and
    dtype, in eval mode without gradients (fastai's `dummy_eval`). Unlike fastai, `m`'s training mode is restored."""
    p = _first_param(m)
    x = torch.empty(1, in_channels(m), *size, device=p.device, dtype=p.dtype).uniform_(-1.0, 1.0)
    was_training = m.training
    try:
        with torch.no_grad():
            return m.eval()(x)
    finally:
        m.train(was_training)


def model_sizes(m: nn.Module, size: Sequence[int] = (64, 64)) -> list[torch.Size]:
    """The output shape of each child of `m` for a dummy input of spatial `size` (fastai's `model_sizes`): where a
    U-Net taps a body, and what each stage of a backbone produces."""
    children = list(m.children())
    if not children:
        raise ValueError(f"model_sizes: {type(m).__name__} has no children to measure")
    with hook_outputs(children) as hooks:
        dummy_eval(m, size=size)
        return [o.shape for o in hooks.stored]


def num_features_model(m: nn.Module) -> int:
    """Channels of `m`'s output (its last child's) for a dummy image: from 32 px, doubled while the body cannot
    take that size, up to 2048 px (fastai's `num_features_model`)."""
    sz = 32
    while True:
        try:
            return int(model_sizes(m, (sz, sz))[-1][1])
        except RuntimeError:  # e.g. "output size is too small": a bigger image may fit the body
            sz *= 2
            if sz > 2048:
                raise


def params_of(*ms: nn.Module) -> list[nn.Parameter]:
    """The parameters of one or several modules, in order, each once (fastai's `params`); a building block of
    splitters (see `split_body_head`)."""
    seen: set[int] = set()
    out: list[nn.Parameter] = []
    for m in ms:
        if not isinstance(m, nn.Module):
            raise TypeError(f"params_of: expected nn.Module arguments, got {type(m).__name__}")
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


class ModelResetter(Callback):
    """Calls `learn.model.reset()` before training, before validation and after fitting (fastai's `ModelResetter`),
    so a stateful model (an RNN keeping its hidden state across batches) starts each phase afresh. A model without
    `reset` is left alone."""

    def _reset(self) -> None:
        reset = getattr(self.learn.model, "reset", None)
        if callable(reset):
            reset()

    def before_train(self) -> None:
        self._reset()

    def before_validate(self) -> None:
        self._reset()

    def after_fit(self) -> None:
        self._reset()
