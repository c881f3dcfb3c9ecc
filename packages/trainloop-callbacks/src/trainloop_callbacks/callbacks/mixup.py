"""`MixUp` and `CutMix`: mix each training batch with a shuffled copy of itself and mix the loss to match."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Beta

from trainloop_callbacks.batches import find_bs
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.losses import unreduced

__all__ = ["MixHandler", "MixUp", "CutMix"]


class _MixedLoss:
    """The learner's loss during mixed training batches: `lam * loss(y) + (1 - lam) * loss(y_shuffled)`."""

    def __init__(self, handler: MixHandler, loss_func: Any) -> None:
        self.handler, self.loss_func = handler, loss_func

    def __getattr__(self, name: str) -> Any:
        # `activation`, `decodes`, `reduction`... of the wrapped loss stay visible to metrics and inference
        inner = self.__dict__.get("loss_func")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    def __call__(self, pred: Any, *yb: Any) -> Tensor:
        h = self.handler
        learn = getattr(h, "learn", None)
        if learn is None or not learn.training or h.yb_shuffled is None:
            return self.loss_func(pred, *yb)
        lf = self.loss_func
        with unreduced(lf, f"{type(h).__name__} with integer targets (mixing per-sample losses)") as old:
            a, b = lf(pred, *yb), lf(pred, *h.yb_shuffled)
        bs = h.lam.shape[0]
        a, b = a.reshape(bs, -1).mean(1), b.reshape(bs, -1).mean(1)
        loss = torch.lerp(b, a, h.lam)  # lam weighs the original targets
        return loss.sum() if old == "sum" else loss.mean()


class MixHandler(Callback):
    """Shared machinery of MixUp and CutMix: draws `lam` from Beta(`alpha`, `alpha`), wraps the loss while training.

    Floating-point targets (one-hot or soft labels) are mixed directly; integer targets keep their value and the
    loss is mixed instead (per sample, through the loss's `reduction`). Validation batches are untouched.
    """

    order = -1  # before MixedPrecision: mix inputs in full precision
    run_valid = False

    def __init__(self, alpha: float = 0.4) -> None:
        if alpha <= 0:
            raise ValueError(f"{type(self).__name__} needs alpha > 0, got {alpha}")
        self.alpha = alpha
        self.distrib = Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))
        self.lam: Tensor = torch.ones(1)
        self.yb_shuffled: tuple[Any, ...] | None = None
        self.shuffle: Tensor | None = None  # the permutation that paired each sample with its partner
        self._orig_loss: Any = None

    def before_train(self) -> None:
        learn = self.learn
        if not isinstance(learn.loss_func, _MixedLoss):
            self._orig_loss = learn.loss_func
            learn.loss_func = _MixedLoss(self, learn.loss_func)

    def after_train(self) -> None:
        self._restore()

    def after_fit(self) -> None:
        self._restore()

    def _restore(self) -> None:
        learn = self.learn
        if isinstance(learn.loss_func, _MixedLoss) and learn.loss_func.handler is self:
            learn.loss_func = self._orig_loss
        self.yb_shuffled = None

    def _mix_targets(self, shuffle: Tensor) -> None:
        """Mix floating targets in place of the batch's; remember shuffled integer targets for the loss."""
        learn = self.learn
        ys = learn.yb
        if ys and all(isinstance(y, Tensor) and y.is_floating_point() for y in ys):
            learn.yb = tuple(torch.lerp(y[shuffle], y, _expand(self.lam, y)) for y in ys)
            self.yb_shuffled = None
        else:
            self.yb_shuffled = tuple(y[shuffle] if isinstance(y, Tensor) else y for y in ys)

    def _check_inputs(self) -> list[Tensor]:
        xs = list(self.learn.xb)
        for i, x in enumerate(xs):
            if not (isinstance(x, Tensor) and x.is_floating_point()):
                raise TypeError(
                    f"{type(self).__name__} mixes inputs and needs floating-point tensors; input {i} is "
                    f"{x.dtype if isinstance(x, Tensor) else type(x).__name__}"
                )
        return xs


def _expand(lam: Tensor, like: Tensor) -> Tensor:
    return lam.reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)


class MixUp(MixHandler):
    """mixup (Zhang et al. 2017): each input becomes `lam * x + (1 - lam) * x_other`, `lam ~ Beta(alpha, alpha)`
    per sample (kept >= 0.5 so the original dominates), and the targets or loss are mixed with the same `lam`."""

    def before_batch(self) -> None:
        learn = self.learn
        xs = self._check_inputs()
        bs = find_bs(learn.xb)
        device = xs[0].device
        lam = self.distrib.sample((bs,))
        self.lam = torch.maximum(lam, 1 - lam).to(device)
        self.shuffle = shuffle = torch.randperm(bs).to(device)
        learn.xb = tuple(torch.lerp(x[shuffle], x, _expand(self.lam, x)) for x in xs)
        self._mix_targets(shuffle)


class CutMix(MixHandler):
    """CutMix (Yun et al. 2019): paste a random box of a shuffled image into each image of shape `(bs, C, H, W)`;
    `lam` is the fraction of each image left as it was, and mixes the targets or the loss."""

    conflicts_with = {MixUp: "both mix the batch and replace the loss; use one mixing callback per fit"}  # noqa: RUF012

    def before_batch(self) -> None:
        learn = self.learn
        xs = self._check_inputs()
        x = xs[0]
        if x.ndim != 4:
            raise ValueError(f"CutMix needs image batches of shape (bs, C, H, W), got shape {tuple(x.shape)}")
        bs, _, h, w = x.shape
        lam = float(self.distrib.sample())
        y1, y2, x1, x2 = _box(h, w, lam)
        self.shuffle = shuffle = torch.randperm(bs).to(x.device)
        mixed = x.clone()
        mixed[:, :, y1:y2, x1:x2] = x[shuffle][:, :, y1:y2, x1:x2]
        learn.xb = (mixed, *xs[1:])
        kept = 1 - ((y2 - y1) * (x2 - x1)) / (h * w)
        self.lam = torch.full((bs,), kept, device=x.device)
        self._mix_targets(shuffle)


def _box(h: int, w: int, lam: float) -> tuple[int, int, int, int]:
    """A box covering about `1 - lam` of an `h` x `w` image at a uniformly drawn centre, clipped to the image."""
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = int(torch.randint(0, h, (1,))), int(torch.randint(0, w, (1,)))
    y1, y2 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    x1, x2 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    return y1, y2, x1, x2
