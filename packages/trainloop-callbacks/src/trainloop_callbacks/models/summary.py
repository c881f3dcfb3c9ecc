"""`model_summary` / `learn.summary()`: each layer's output shape and parameters for one batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from trainloop_callbacks.batches import to_device, to_plain
from trainloop_callbacks.loop.protocols import HasOneBatch, n_inp_of

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["LayerInfo", "ModelSummary", "model_summary", "learner_summary"]


@dataclass(frozen=True)
class LayerInfo:
    """One call of a leaf module: its name in the model, class, output shape, own parameters, trainable or not."""

    name: str
    kind: str
    output_shape: tuple[int, ...] | str
    params: int
    trainable: bool | None  # None: the layer has no parameters


@dataclass
class ModelSummary:
    """The rows of a summary plus totals; `str()` (and the notebook repr) is the table."""

    model_name: str
    input_shapes: list[tuple[int, ...]]
    rows: list[LayerInfo]
    total_params: int
    trainable_params: int
    extra: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = ("Layer (type)", "Output Shape", "Param #", "Trainable")
        body = [
            (
                f"{r.name} ({r.kind})",
                _shape(r.output_shape),
                f"{r.params:,}",
                "" if r.trainable is None else str(r.trainable),
            )
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(4)]
        line = "=" * (sum(widths) + 6)
        fmt = "{:<%d}  {:<%d}  {:>%d}  {:<%d}" % tuple(widths)  # noqa: UP031 - widths computed above
        shapes = ", ".join(_shape(s) for s in self.input_shapes)
        out = [f"{self.model_name} (input: {shapes})", line, fmt.format(*head), line]
        out += [fmt.format(*row) for row in body]
        out += [
            line,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            *self.extra,
        ]
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)


def _shape(s: tuple[int, ...] | str) -> str:
    return s if isinstance(s, str) else "(" + ", ".join(str(d) for d in s) + ")"


def _out_shape(out: Any) -> tuple[int, ...] | str:
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape(_out_shape(o)) for o in out)
    return type(out).__name__


def model_summary(model: nn.Module, *xb: Any) -> ModelSummary:
    """Run `model(*xb)` once (eval mode, no grad) and record every leaf module call in order."""
    rows: list[LayerInfo] = []
    names = {m: n for n, m in model.named_modules()}

    def record(m: nn.Module, inp: Any, out: Any) -> None:  # noqa: ARG001 - torch's hook signature
        own = list(m.parameters(recurse=False))
        n = sum(p.numel() for p in own)
        trainable = None if not own else all(p.requires_grad for p in own)
        rows.append(LayerInfo(names.get(m, "?"), type(m).__name__, _out_shape(out), n, trainable))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())] or [model]
    handles = [m.register_forward_hook(record) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*to_plain(xb))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    params = list(model.parameters())
    return ModelSummary(
        model_name=type(model).__name__,
        input_shapes=[tuple(x.shape) for x in xb if isinstance(x, Tensor)],
        rows=rows,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
    )


def learner_summary(learn: Learner) -> ModelSummary:
    """`model_summary` on one training batch of the learner (`dls.one_batch()` when the data has it), plus the
    optimizer, loss and callbacks."""
    dls = learn.dls
    b = dls.one_batch() if isinstance(dls, HasOneBatch) else next(iter(dls.train), None)
    if b is None:
        raise ValueError("summary needs one training batch, but dls.train yielded none")
    b = b if isinstance(b, (tuple, list)) else (b,)
    n_inp = n_inp_of(dls)
    device = next(iter(learn.model.parameters()), torch.empty(0)).device
    res = model_summary(learn.model, *to_device(tuple(b[:n_inp]), device))
    opt = learn.opt_func if learn.opt is None else type(learn.opt)
    res.extra = [
        f"Optimizer: {getattr(opt, '__name__', type(opt).__name__)}",
        f"Loss function: {getattr(learn.loss_func, '__name__', type(learn.loss_func).__name__)}",
        "Callbacks: " + ", ".join(type(c).__name__ for c in learn.cbs),
    ]
    return res
