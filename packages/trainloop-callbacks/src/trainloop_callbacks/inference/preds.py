"""Inference on a trained `Learner`: `validate`, `get_preds`, `predict`, `show_results`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler

from trainloop_callbacks.batches import retype_like
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.core import model_device
from trainloop_callbacks.loop.events import BRACKETS
from trainloop_callbacks.loop.protocols import (
    DecodesBatch,
    HasTestDl,
    Renewable,
    RetypesTargets,
    ShowsResults,
    n_inp_of,
)
from trainloop_callbacks.losses import unreduced

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["GatherPredsCallback", "InferenceMixin", "unshuffled"]

_VALID = BRACKETS["validate"]


def _cat(items: list[Any]) -> Any:
    """Batches joined along the batch axis; tensors whose other axes differ between batches (texts padded to each
    batch's own length) give a list of the items instead, one tensor each, as fastai's `to_concat`."""
    if not items:
        return None
    first = items[0]
    if isinstance(first, Tensor):
        parts = [i if i.ndim else i[None] for i in items]
        if any(p.shape[1:] != parts[0].shape[1:] for p in parts):
            return [row for p in parts for row in p]
        return torch.cat(parts)
    if isinstance(first, (tuple, list)):
        return type(first)(_cat([i[k] for i in items]) for k in range(len(first)))
    return items


def _detach(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.detach().cpu()
    if isinstance(x, (tuple, list)):
        return type(x)(_detach(o) for o in x)
    return x


class GatherPredsCallback(Callback):
    """Collects inputs, predictions, targets and (unreduced) losses of every batch of an inference pass."""

    order = 70  # after the Recorder has read the batch

    def __init__(self, with_input: bool = False, with_loss: bool = False) -> None:
        self.with_input, self.with_loss = with_input, with_loss

    def before_validate(self) -> None:
        self.inputs: list[Any] = []
        self.preds: list[Any] = []
        self.targets: list[Any] = []
        self.losses: list[Tensor] = []
        self.target_like: Any = None

    def after_batch(self) -> None:
        learn = self.learn
        self.preds.append(_detach(learn.pred))
        if self.with_input:
            self.inputs.append(_detach(learn.xb if len(learn.xb) > 1 else learn.xb[0]))
        if learn.yb:
            ys = learn.yb if len(learn.yb) > 1 else learn.yb[0]
            if self.target_like is None:
                self.target_like = ys
            self.targets.append(_detach(ys))
            if self.with_loss:
                self.losses.append(_detach(learn.loss))


def _dataset_order(dl: Iterable[Any]) -> Tensor | None:
    """For a loader that reads its items in a fixed order other than the dataset's (its `get_idxs()` hook, e.g.
    texts sorted by length), the permutation that puts what it yields back in dataset order; else None."""
    get_idxs = getattr(dl, "get_idxs", None)
    if not callable(get_idxs) or getattr(dl, "shuffle", False) or getattr(dl, "sampler", None) is not None:
        return None  # a random order (a sampler may draw a new one at each call) cannot be undone afterwards
    idxs = [int(i) for i in get_idxs()]
    if idxs == list(range(len(idxs))) or sorted(idxs) != list(range(len(idxs))):
        return None  # already in order, or not a permutation of the dataset (nothing to undo)
    return torch.tensor(idxs).argsort()


def _reorder(x: Any, perm: Tensor) -> Any:
    if isinstance(x, Tensor):
        return x[perm] if x.ndim and len(x) == len(perm) else x
    if isinstance(x, tuple):
        return tuple(_reorder(o, perm) for o in x)
    if isinstance(x, list) and len(x) == len(perm) and all(isinstance(o, Tensor) for o in x):
        return [x[i] for i in perm.tolist()]  # items of different lengths (see _cat)
    if isinstance(x, list):
        return [_reorder(o, perm) for o in x]
    return x


def unshuffled(dl: Iterable[Any]) -> Iterable[Any]:
    """`dl` in dataset order: a torch DataLoader rebuilt with a sequential sampler, else `dl.new(shuffle=False)`."""
    if isinstance(dl, DataLoader) and isinstance(dl.sampler, RandomSampler) and dl.batch_size is not None:
        return DataLoader(
            dl.dataset, batch_size=dl.batch_size, shuffle=False, collate_fn=dl.collate_fn, num_workers=dl.num_workers
        )
    if isinstance(dl, Renewable) and getattr(dl, "shuffle", False):
        with contextlib.suppress(TypeError):
            return dl.new(shuffle=False, drop_last=False)
    return dl


class InferenceMixin:
    """Inference methods of `Learner`."""

    def _dl(self: Learner, ds_idx: int, dl: Iterable[Any] | None) -> Iterable[Any]:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        if dl is not None:
            return dl
        if isinstance(ds_idx, bool) or ds_idx not in (0, 1):  # True would silently mean the validation set
            raise ValueError(f"ds_idx must be 0 (train) or 1 (valid), got {ds_idx}")
        return self.dls.train if ds_idx == 0 else self.dls.valid

    def _inference_pass(self: Learner, dl: Iterable[Any], cbs: Sequence[Callback]) -> None:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self._prepare_batches(dl)
        was_training = self.model.training
        self.dl, self.training = dl, False
        self.model.eval()
        try:
            with self.added_cbs(list(cbs)), torch.no_grad():
                self._with_events(self._all_batches, _VALID)
        finally:
            self.model.train(was_training)

    def validate(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner, ds_idx: int = 1, dl: Iterable[Any] | None = None, cbs: Sequence[Callback] = ()
    ) -> list[Any]:
        """Loss and metrics on `dl` (default: the validation set) as `[loss, *metrics]`."""
        self._inference_pass(self._dl(ds_idx, dl), cbs)
        rec = getattr(self, "recorder", None)
        if rec is None:
            raise ValueError("validate needs the Recorder callback (default_cbs=True) to average loss and metrics")
        return [rec.loss.value, *[m.value for m in self.metrics]]

    def _target_typing(self: Learner, like: Any) -> Callable[[Any], Any]:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """How predictions get the targets' tensor types: like the gathered targets, or, for unlabelled data
        (a `test_dl`), through the data's optional `retype_targets` hook (so they decode to labels)."""
        if like is not None:
            return lambda x: retype_like(x, like)
        dls = self.dls
        if isinstance(dls, RetypesTargets):
            return lambda x: x if x is None else dls.retype_targets(tuple(x) if isinstance(x, list) else x)
        return lambda x: x

    def get_preds(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        ds_idx: int = 1,
        dl: Iterable[Any] | None = None,
        with_input: bool = False,
        with_decoded: bool = False,
        with_loss: bool = False,
        act: Callable[[Tensor], Tensor] | None = None,
        reorder: bool = True,
        cbs: Sequence[Callback] = (),
    ) -> tuple[Any, ...]:
        """Predictions and targets over a dataset: `([inputs,] preds, targets[, decoded][, losses])`.

        `act` (default: the loss function's `activation`) turns outputs into probabilities; `decoded` uses
        the loss function's `decodes`. Predictions get the targets' tensor type back for decoding (on
        unlabelled data, from the data's `retype_targets` hook), so `dls.decode_batch` turns them into labels.
        Inputs (or outputs) whose length differs between batches (padded texts) come back as a list of items.
        With `reorder`, a shuffled loader is read in order, and one whose `get_idxs()` gives a fixed order of its
        own (texts sorted by length) has its results put back in dataset order, as fastai.
        """
        dl = self._dl(ds_idx, dl)
        if reorder:
            dl = unshuffled(dl)
        gather = GatherPredsCallback(with_input=with_input, with_loss=with_loss)
        ctx = unreduced(self.loss_func, "get_preds(with_loss=True)") if with_loss else contextlib.nullcontext()
        with ctx:
            self._inference_pass(dl, [gather, *cbs])
        act = act or getattr(self.loss_func, "activation", None) or (lambda x: x)
        preds = act(_cat(gather.preds))
        targs = _cat(gather.targets)
        typed = self._target_typing(gather.target_like)
        preds = typed(preds)
        res: list[Any] = [preds, targs]
        if with_decoded:
            decodes = getattr(self.loss_func, "decodes", None) or (lambda x: x)
            res.append(typed(decodes(preds)))
        if with_input:
            res.insert(0, _cat(gather.inputs))
        if with_loss:
            res.append(_cat(gather.losses))
        perm = _dataset_order(dl) if reorder else None
        if perm is not None:
            res = [_reorder(r, perm) for r in res]
        return tuple(res)

    def predict(self: Learner, item: Any) -> tuple[Any, Any, Any]:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        """Prediction for one raw item, as in fastai: `(decoded prediction, raw decoded tensor, probabilities)`,
        e.g. `('cat', TensorCategory(1), tensor([0.1, 0.9]))`; a multi-label target gives the list of labels,
        a regression target the predicted numbers.

        The item goes through `dls.test_dl([item])` (no label needed); the prediction is decoded by
        `dls.decode_batch`, which types it as the target. Without those hooks `item` must be a model input tensor.
        """
        dls = self.dls
        if isinstance(dls, HasTestDl):
            dl = dls.test_dl([item])
            with self.no_bar():  # one item: a progress bar would only flash
                inp, preds, _, dec = self.get_preds(dl=dl, with_input=True, with_decoded=True, reorder=False)
        else:
            if not isinstance(item, Tensor):
                raise TypeError(
                    f"predict: the data has no `test_dl` hook (data protocol), so the item must be a tensor "
                    f"the model takes; got {type(item).__name__}"
                )
            inp = item[None]
            with torch.no_grad():
                self.model.eval()
                out = self.model(inp.as_subclass(Tensor).to(model_device(self.model)))
            act = getattr(self.loss_func, "activation", None) or (lambda x: x)
            preds = act(out.detach().cpu())
            dec = (getattr(self.loss_func, "decodes", None) or (lambda x: x))(preds)
        decs = tuple(dec) if isinstance(dec, (tuple, list)) else (dec,)
        first_dec = decs[0][0] if len(decs) == 1 else tuple(d[0] for d in decs)
        first_preds = tuple(p[0] for p in preds) if isinstance(preds, (tuple, list)) else preds[0]
        full = first_dec
        if isinstance(dls, DecodesBatch):
            inps = inp if isinstance(inp, tuple) else (inp,)
            first = dls.decode_batch((*inps, *decs))[0]
            target = first[n_inp_of(dls) :]
            full = target[0] if len(target) == 1 else target
        return full, first_dec, first_preds

    def show_results(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner, ds_idx: int = 1, dl: Iterable[Any] | None = None, max_n: int = 9, **kwargs: Any
    ) -> Any:
        """Show a batch with its predictions through the data's `show_results(b, preds)` hook."""
        dls = self.dls
        if not isinstance(dls, ShowsResults):
            raise ValueError(
                "show_results needs the data protocol hook `dls.show_results(b, preds)`; these data "
                f"({type(self.dls).__name__}) have none. Use get_preds(with_input=True, with_decoded=True) instead."
            )
        dl = self._dl(ds_idx, dl)
        b = next(iter(dl))
        inp, _, targs, dec = self.get_preds(dl=[b], with_input=True, with_decoded=True, reorder=False)
        return dls.show_results(
            (inp, targs) if not isinstance(inp, tuple) else (*inp, targs), dec, max_n=max_n, **kwargs
        )
