"""Losses that flatten their inputs and know how to turn outputs into probabilities (`activation`) and
predictions (`decodes`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "FlatLoss",
    "CrossEntropyLossFlat",
    "BCEWithLogitsLossFlat",
    "BCELossFlat",
    "MSELossFlat",
    "L1LossFlat",
    "LabelSmoothingCrossEntropy",
    "LabelSmoothingCrossEntropyFlat",
    "FocalLoss",
    "FocalLossFlat",
    "DiceLoss",
    "LOSS_KINDS",
    "loss_from_kind",
    "unreduced",
]


@contextlib.contextmanager
def unreduced(loss_func: Any, needed_by: str) -> Iterator[str]:
    """Within the block `loss_func` returns per-item losses (`reduction='none'`); yields the reduction it had,
    which is restored on the way out. `needed_by` names the feature in the error for a loss without `reduction`."""
    if not hasattr(loss_func, "reduction"):
        raise ValueError(
            f"{needed_by} needs a loss_func with a `reduction` attribute (e.g. CrossEntropyLossFlat or "
            f"nn.CrossEntropyLoss), got {type(loss_func).__name__}"
        )
    old = loss_func.reduction
    loss_func.reduction = "none"
    try:
        yield old
    finally:
        loss_func.reduction = old


class FlatLoss:
    """Wraps a torch loss module: moves `axis` last, flattens output to `(-1, C)` (or `(-1,)` if not `is_2d`)
    and targets to `(-1,)`, optionally casting targets to float. `reduction` is forwarded to the wrapped loss."""

    def __init__(
        self, func: nn.Module, axis: int = -1, flatten: bool = True, floatify: bool = False, is_2d: bool = True
    ):
        self.func, self.axis, self.flatten, self.floatify, self.is_2d = func, axis, flatten, floatify, is_2d
        self.config: dict[str, Any] = {}

    @property
    def __name__(self) -> str:  # so error messages and logs name the loss
        return type(self).__qualname__

    @property
    def reduction(self) -> str:
        value = self.func.reduction
        if not isinstance(value, str):
            raise TypeError(f"{type(self.func).__name__} has no `reduction` to read or set")
        return value

    @reduction.setter
    def reduction(self, value: str) -> None:
        self.func.reduction = value  # type: ignore[assignment]  # torch types Module attributes as Tensor | Module; this one is a str

    def _prep(self, inp: Tensor, targ: Tensor) -> tuple[Tensor, Tensor]:
        if self.floatify and not targ.is_floating_point():
            targ = targ.float()
        # `movedim`, not `transpose(axis, -1)`: a swap would also reorder the axes between (H and W of an
        # (N, C, H, W) output) and score every pixel against the transposed mask (test_flat_losses_match_torch_*).
        # A target with as many axes as the output (BCE/MSE/L1 targets, class probabilities) moves the same way.
        same_ndim = targ.ndim == inp.ndim
        if self.axis != -1 and self.axis != inp.ndim - 1:
            if same_ndim:
                targ = targ.movedim(self.axis, -1)
            inp = inp.movedim(self.axis, -1).contiguous()
        if self.flatten:
            flat_inp = inp.reshape(-1, inp.shape[-1]) if self.is_2d else inp.reshape(-1)
            soft = self.is_2d and same_ndim and targ.is_floating_point() and targ.shape == inp.shape
            flat_targ = targ.reshape(-1, targ.shape[-1]) if soft else targ.reshape(-1)
            if flat_inp.shape[0] != flat_targ.shape[0]:
                raise ValueError(
                    f"{type(self).__name__}: model output of shape {tuple(inp.shape)} and target of shape "
                    f"{tuple(targ.shape)} give different numbers of items ({flat_inp.shape[0]} vs {flat_targ.shape[0]})"
                )
            inp, targ = flat_inp, flat_targ
        return inp, targ

    def __call__(self, inp: Tensor, targ: Tensor) -> Tensor:
        inp, targ = self._prep(inp, targ)
        return self.func(inp, targ)

    def activation(self, x: Tensor) -> Tensor:
        """Outputs to probabilities (identity by default)."""
        return x

    def decodes(self, x: Tensor) -> Tensor:
        """Probabilities to predictions (identity by default)."""
        return x

    def __repr__(self) -> str:
        return f"FlatLoss of {self.func!r}"


class CrossEntropyLossFlat(FlatLoss):
    """Cross-entropy over `axis` (class scores), any number of leading dimensions; decodes with argmax."""

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(
        self, weight: Tensor | None = None, axis: int = -1, ignore_index: int = -100, label_smoothing: float = 0.0
    ):
        super().__init__(
            nn.CrossEntropyLoss(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing), axis=axis
        )
        self.config = {"axis": axis, "ignore_index": ignore_index, "label_smoothing": label_smoothing}
        if weight is not None:  # class weights survive export (a tensor in the weights-only file)
            self.config["weight"] = torch.as_tensor(weight).detach().cpu()

    def activation(self, x: Tensor) -> Tensor:
        return F.softmax(x, dim=self.axis)

    def decodes(self, x: Tensor) -> Tensor:
        return x.argmax(dim=self.axis)


class BCEWithLogitsLossFlat(FlatLoss):
    """Binary cross-entropy on logits (multi-label); decodes with `sigmoid > thresh`."""

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(self, axis: int = -1, thresh: float = 0.5, pos_weight: Tensor | None = None):
        super().__init__(nn.BCEWithLogitsLoss(pos_weight=pos_weight), axis=axis, floatify=True, is_2d=False)
        self.thresh = thresh
        self.config = {"axis": axis, "thresh": thresh}
        if pos_weight is not None:
            self.config["pos_weight"] = torch.as_tensor(pos_weight).detach().cpu()

    def activation(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)

    def decodes(self, x: Tensor) -> Tensor:
        return x > self.thresh


class BCELossFlat(FlatLoss):
    """Binary cross-entropy on probabilities; decodes with `> thresh`."""

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(self, axis: int = -1, thresh: float = 0.5):
        super().__init__(nn.BCELoss(), axis=axis, floatify=True, is_2d=False)
        self.thresh = thresh
        self.config = {"axis": axis, "thresh": thresh}

    def decodes(self, x: Tensor) -> Tensor:
        return x > self.thresh


class MSELossFlat(FlatLoss):
    """Mean squared error on flattened outputs and targets."""

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(self, axis: int = -1):
        super().__init__(nn.MSELoss(), axis=axis, floatify=True, is_2d=False)
        self.config = {"axis": axis}


class L1LossFlat(FlatLoss):
    """Mean absolute error on flattened outputs and targets."""

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(self, axis: int = -1):
        super().__init__(nn.L1Loss(), axis=axis, floatify=True, is_2d=False)
        self.config = {"axis": axis}


class LabelSmoothingCrossEntropy(nn.Module):
    """Cross-entropy against targets smoothed by `eps`: `(1-eps)·nll + eps·mean over classes of -log p`."""

    def __init__(self, eps: float = 0.1, reduction: str = "mean"):
        super().__init__()
        self.eps, self.reduction = eps, reduction

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        log_p = F.log_softmax(output, dim=-1)
        smooth = -log_p.mean(dim=-1)
        nll = F.nll_loss(log_p, target.long(), reduction="none")
        loss = (1 - self.eps) * nll + self.eps * smooth
        return _reduce(loss, self.reduction)


class LabelSmoothingCrossEntropyFlat(FlatLoss):
    """`LabelSmoothingCrossEntropy` over `axis`, flattened; decodes with argmax."""

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(self, eps: float = 0.1, axis: int = -1):
        super().__init__(LabelSmoothingCrossEntropy(eps=eps), axis=axis)
        self.config = {"eps": eps, "axis": axis}

    def activation(self, x: Tensor) -> Tensor:
        return F.softmax(x, dim=self.axis)

    def decodes(self, x: Tensor) -> Tensor:
        return x.argmax(dim=self.axis)


class FocalLoss(nn.Module):
    """Focal loss: cross-entropy scaled by `(1 - p_target)**gamma`, focusing on hard examples."""

    def __init__(self, gamma: float = 2.0, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__()
        self.gamma, self.weight, self.reduction = gamma, weight, reduction

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        log_p = F.log_softmax(output, dim=-1)
        ce = F.nll_loss(log_p, target.long(), weight=self.weight, reduction="none")
        p_t = log_p.gather(-1, target.long().unsqueeze(-1)).squeeze(-1).exp()
        return _reduce((1 - p_t) ** self.gamma * ce, self.reduction)


class FocalLossFlat(FlatLoss):
    """`FocalLoss` over `axis`, flattened; decodes with argmax."""

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(self, gamma: float = 2.0, axis: int = -1, weight: Tensor | None = None):
        super().__init__(FocalLoss(gamma=gamma, weight=weight), axis=axis)
        self.config = {"gamma": gamma, "axis": axis}
        if weight is not None:
            self.config["weight"] = torch.as_tensor(weight).detach().cpu()

    def activation(self, x: Tensor) -> Tensor:
        return F.softmax(x, dim=self.axis)

    def decodes(self, x: Tensor) -> Tensor:
        return x.argmax(dim=self.axis)


class DiceLoss:
    """Soft Dice loss for segmentation: `1 - 2·Σ(p·onehot) / Σ(p + onehot)` per class, summed over classes.

    Output `(bs, C, ...)` logits over `axis`, target `(bs, ...)` class indices.
    """

    config_safe = True  # export writes its `config`; load_learner rebuilds it from that

    def __init__(self, axis: int = 1, smooth: float = 1e-6, reduction: str = "sum", square_in_union: bool = False):
        self.axis, self.smooth, self.reduction, self.square_in_union = axis, smooth, reduction, square_in_union
        self.config = {"axis": axis, "smooth": smooth, "reduction": reduction, "square_in_union": square_in_union}

    def __call__(self, pred: Tensor, targ: Tensor) -> Tensor:
        n_classes = pred.shape[self.axis]
        axis = self.axis % pred.ndim  # a negative axis (-1: classes last) slices the shape like a positive one
        if targ.shape != pred.shape[:axis] + pred.shape[axis + 1 :]:
            raise ValueError(
                f"DiceLoss: target shape {tuple(targ.shape)} is not output shape {tuple(pred.shape)} "
                f"without axis {self.axis}"
            )
        probs = F.softmax(pred, dim=self.axis).movedim(self.axis, -1).reshape(pred.shape[0], -1, n_classes)
        onehot = F.one_hot(targ.long(), n_classes).reshape(pred.shape[0], -1, n_classes).to(probs.dtype)
        inter = (probs * onehot).sum(1)
        union = (probs**2).sum(1) + onehot.sum(1) if self.square_in_union else (probs + onehot).sum(1)
        loss = 1 - (2.0 * inter + self.smooth) / (union + self.smooth)
        return _reduce(loss, self.reduction)

    def activation(self, x: Tensor) -> Tensor:
        return F.softmax(x, dim=self.axis)

    def decodes(self, x: Tensor) -> Tensor:
        return x.argmax(dim=self.axis)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


# What the data say about their targets (the data protocol's `dls.loss_kind`) → the loss fastai would pick.
LOSS_KINDS: dict[str, Callable[..., FlatLoss]] = {
    "cross_entropy": CrossEntropyLossFlat,  # single-label classes, class scores along `axis` (1 for masks)
    "bce": BCEWithLogitsLossFlat,  # multi-label
    "mse": MSELossFlat,  # regression
}


def loss_from_kind(loss_kind: Mapping[str, Any]) -> FlatLoss:
    """The loss for the data protocol's `dls.loss_kind`, a plain dict `{"kind": "cross_entropy" | "bce" | "mse",
    "axis": int}` (`axis`, default -1, is where the class scores are: 1 for segmentation masks).

    `loss_from_kind({"kind": "cross_entropy", "axis": 1})` is `CrossEntropyLossFlat(axis=1)`; the `Learner` uses
    it when no `loss_func` is given."""
    if not isinstance(loss_kind, Mapping):
        raise TypeError(f'loss_kind must be a dict like {{"kind": "cross_entropy", "axis": -1}}, got {loss_kind!r}')
    unknown = sorted(set(loss_kind) - {"kind", "axis"})
    kind, axis = loss_kind.get("kind"), loss_kind.get("axis", -1)
    if unknown or kind not in LOSS_KINDS or isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(
            f"loss_kind {dict(loss_kind)!r} cannot be read: expected 'kind' one of {sorted(LOSS_KINDS)} and an "
            f"optional integer 'axis'{f', not the keys {unknown}' if unknown else ''}"
        )
    return LOSS_KINDS[kind](axis=axis)
