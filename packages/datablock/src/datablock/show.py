"""Pictures of batches and of predictions: each sample drawn on one canvas, the canvases in a grid."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import torch

from datablock.collate import decollate, retype
from typedtensor import Canvas

__all__ = [
    "show_samples",
    "grid",
    "title_of",
    "decode_preds",
    "pipeline_type",
    "target_types",
    "retype_targets",
    "samples_table",
]


def _decoder(dataset: Any, k: int) -> Any:
    tls = getattr(dataset, "tls", None)
    return tls[k] if tls is not None and k < len(tls) else None


def _showable(x: Any, dataset: Any, k: int) -> Any:
    dec = _decoder(dataset, k)
    return x if dec is None else dec.decode(x, full=False)


def title_of(x: Any) -> str:
    """The text a label-like element shows as (its title on a blank canvas), or its str."""
    if hasattr(x, "show"):
        ctx = x.show(ctx=Canvas(0, 0))
        if ctx is not None and ctx.title is not None:
            return ctx.title
    if isinstance(x, torch.Tensor) and x.numel() <= 8:
        vals = x.detach().cpu().flatten().tolist()
        return ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in vals)
    return str(x)


def _is_picture(x: Any) -> bool:
    """Elements that draw pixels (images, masks, points...) rather than only a title."""
    return hasattr(x, "show") and isinstance(x, torch.Tensor) and x.ndim >= 2


@cache
def _takes_labels(typ: type) -> bool:
    show = getattr(typ, "show", None)
    try:
        return show is not None and "labels" in inspect.signature(show).parameters
    except (TypeError, ValueError):
        return False


def _labels_for(picture: Any, x: Any) -> list[str] | None:
    """`x` as the labels of `picture`'s items (one per box), when `picture` draws labels and `x` has one per item."""
    typ: type = type(picture)
    if not (_takes_labels(typ) and isinstance(picture, torch.Tensor) and picture.ndim == 2):
        return None
    n = picture.shape[0]
    if isinstance(x, torch.Tensor) and x.ndim == 1 and x.shape[0] == n and not x.is_floating_point():
        vocab = getattr(x, "vocab", None)
        ids = x.detach().cpu().tolist()
        return [str(vocab[i]) if vocab is not None else str(i) for i in ids]
    if isinstance(x, (list, tuple)) and len(x) == n and all(isinstance(o, str) for o in x):
        return [str(o) for o in x]
    return None


def _layer(sample: Sequence[Any], dataset: Any, n_inp: int, offset: int = 0) -> tuple[Canvas | None, list[str]]:
    """Draw the pictures of `sample` in order on one canvas; the other elements give title lines."""
    ctx: Canvas | None = None
    titles = []
    objs = [_showable(x, dataset, k) for k, x in enumerate(sample, start=offset)]
    owned: set[int] = set()  # label elements drawn by their picture (box labels on their boxes)
    for j, obj in enumerate(objs):
        k = j + offset
        if j in owned:
            continue
        if _is_picture(obj):
            labels = _labels_for(obj, objs[j + 1]) if j + 1 < len(objs) else None
            if labels is not None:
                owned.add(j + 1)
            ctx = obj.show(ctx=ctx) if labels is None else obj.show(ctx=ctx, labels=labels)
        elif k >= n_inp or not hasattr(obj, "show"):
            titles.append(title_of(obj))
        else:
            ctx = obj.show(ctx=ctx)
            if ctx is not None and ctx.title:
                titles.append(ctx.title)
    return ctx, titles


def _finish(ctx: Canvas | None, titles: list[str]) -> Canvas:
    ctx = Canvas(0, 0, background=(255, 255, 255)) if ctx is None else ctx
    ctx.title = "\n".join(titles) if titles else ctx.title
    return ctx


def show_samples(
    samples: Sequence[Sequence[Any]], dataset: Any, n_inp: int, preds: Sequence[Any] | None = None
) -> list[Canvas]:
    """One canvas per sample: pictures layered in order, labels (and predictions) as the title.

    With `preds` (one tuple of decoded predictions per sample, one per target): label-like predictions
    join the title as `target / prediction`; when a prediction is a picture (a mask, points, boxes), each
    sample gives two canvases, the inputs with the targets and the inputs with the predictions.

    A label element right after a picture whose `show` takes `labels` (boxes), with one label per item of
    that picture, is drawn by the picture (each box with its label) instead of going to the title.
    """
    out = []
    for i, sample in enumerate(samples):
        sample = sample if isinstance(sample, tuple) else (sample,)
        if preds is None:
            out.append(_finish(*_layer(sample, dataset, n_inp)))
            continue
        pred = preds[i] if isinstance(preds[i], tuple) else (preds[i],)
        shown = [_showable(p, dataset, n_inp + j) for j, p in enumerate(pred)]
        if any(_is_picture(p) for p in shown):
            ctx, titles = _layer(sample, dataset, n_inp)
            out.append(_finish(ctx, [*titles, "target"] if not titles else titles))
            pctx, ptitles = _layer((*sample[:n_inp], *pred), dataset, n_inp)
            out.append(_finish(pctx, [*ptitles, "prediction"] if not ptitles else ptitles))
            continue
        ctx, titles = _layer(sample, dataset, n_inp)
        ptitles = [title_of(p) for p in shown]
        titles = [f"{t} / {p}" for t, p in zip(titles[-len(ptitles) :], ptitles, strict=False)] or ptitles
        out.append(_finish(ctx, titles))
    return out


def grid(canvases: Sequence[Canvas], ncols: int = 3, pad: int = 4, scale: int = 1) -> Canvas:
    """The canvases (with their titles) in a grid of `ncols` columns, as one canvas that saves to PNG."""
    if ncols < 1:
        raise ValueError(f"grid: ncols must be >= 1, got {ncols}")
    cells = [c.to_pil(scale) for c in canvases]
    if not cells:
        return Canvas(0, 0, background=(255, 255, 255))
    ncols = min(ncols, len(cells))
    nrows = math.ceil(len(cells) / ncols)
    cw, ch = max(c.width for c in cells), max(c.height for c in cells)
    out = Canvas(nrows * (ch + pad) + pad, ncols * (cw + pad) + pad, background=(255, 255, 255))
    for i, cell in enumerate(cells):
        r, c = divmod(i, ncols)
        out.image.paste(cell, (pad + c * (cw + pad), pad + r * (ch + pad)))
    return out


def _class_axis(p: torch.Tensor, y: torch.Tensor) -> int:
    """The axis of class scores `p` whose removal gives the target's shape (1 or -1); refuse when both fit."""
    fits = [a for a in dict.fromkeys((1, p.ndim - 1)) if p.shape[:a] + p.shape[a + 1 :] == y.shape]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise ValueError(
            f"show_results: predictions of shape {tuple(p.shape)} do not match targets of shape {tuple(y.shape)} "
            "with one class axis; pass decoded predictions (the loss function's `decodes`)"
        )
    raise ValueError(
        f"show_results: predictions of shape {tuple(p.shape)} could have their classes on axis 1 or on the last "
        f"axis for targets of shape {tuple(y.shape)}; pass decoded predictions (the loss function's `decodes`)"
    )


def decode_preds(preds: Any, targets: Sequence[Any], max_n: int | None = None) -> Any:
    """Model outputs in the targets' form, one per target, typed like it: class scores → the predicted class
    (on the axis whose removal gives the target's shape), multi-label logits → probabilities.

    With `max_n`, a list of per-sample tuples (at most `max_n`); without, a tuple of batched tensors.
    """
    preds = preds if isinstance(preds, (tuple, list)) else (preds,)
    cols = []
    for p, y in zip(preds, targets, strict=False):
        p = p.detach().cpu()
        if isinstance(y, torch.Tensor) and p.is_floating_point() and p.ndim == y.ndim + 1 and not y.is_floating_point():
            p = p.argmax(_class_axis(p, y))
        elif (
            isinstance(y, torch.Tensor)
            and y.is_floating_point()
            and p.shape == y.shape
            and (p.min() < 0 or p.max() > 1)
        ):
            if type(y).__name__ == "TensorMultiCategory":
                p = torch.sigmoid(p)
        cols.append(retype(p.as_subclass(torch.Tensor), y) if isinstance(y, torch.Tensor) else p)
    if max_n is None:
        return tuple(cols)
    cols = [decollate(c, max_n) for c in cols]
    return [tuple(c[i] for c in cols) for i in range(min(len(c) for c in cols))] if cols else []


def pipeline_type(pipeline: Any) -> type | None:
    """The tensor type a pipeline's decoding starts from: last step first, the step's `target_type` class
    attribute or else the first tensor class its `decodes` takes (e.g. `TensorCategory` for `Categorize`), or
    None when no step decodes a tensor type."""
    fs = getattr(pipeline, "fs", None)
    if fs is None:
        return None
    for step in reversed(fs):
        declared = getattr(step, "target_type", None)  # steps whose decodes also take plain tensors say it
        if isinstance(declared, type):
            return declared
        table = getattr(getattr(step, "decodes", None), "table", None)
        types = getattr(table, "input_types", None)
        if types is None:
            continue
        for t in types():
            if issubclass(t, torch.Tensor) and t is not torch.Tensor:
                return t
    return None


def target_types(dataset: Any, n_inp: int) -> list[type | None]:
    """The tensor type of each target position of `dataset` (from its pipelines; None where unknown)."""
    tls = getattr(dataset, "tls", None) or []
    return [pipeline_type(tl.tfms) for tl in tls[n_inp:]]


def retype_targets(b: Any, types: Sequence[type | None], n_inp: int) -> Any:
    """Batch `b` with the plain tensors at its target positions re-typed as `types` (model outputs become
    labels, masks, points or boxes when decoded); typed elements and inputs are left as they are."""
    if not isinstance(b, tuple):
        return b
    out = list(b)
    for k, typ in enumerate(types, start=n_inp):
        if typ is not None and k < len(out) and type(out[k]) is torch.Tensor:
            wrap = getattr(typ, "wrap", None)
            out[k] = wrap(out[k]) if wrap is not None else out[k].as_subclass(typ)
    return tuple(out)


def _cell(x: Any) -> Any:
    """A table cell: numbers as numbers, short tensors as lists, labels as text."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.item() if x.numel() == 1 else x.tolist()
    if isinstance(x, str):
        return str(x)
    if isinstance(x, (list, tuple)) and all(isinstance(o, str) for o in x):
        return "; ".join(str(o) for o in x)
    return x


def _row(sample: Sequence[Any], names: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, x in zip(names, sample, strict=False):
        items = getattr(x, "items", None)
        if isinstance(x, Mapping) or (callable(items) and hasattr(x, "index") and hasattr(x, "iloc")):
            row.update({str(k): _cell(v) for k, v in x.items()})  # a dict or a pandas row: one column per field
        else:
            row[name] = _cell(x)
    return row


def samples_table(
    samples: Sequence[Sequence[Any]], dataset: Any, n_inp: int, preds: Sequence[Any] | None = None
) -> Any:
    """The samples as a pandas DataFrame, one row each (decoded fully: labels as text), for tabular-like data.

    Inputs are columns `x` (`x0`, `x1`... for several), targets `y` (`y0`...); a dict or pandas row element
    gives one column per field; predictions add `<target column>_pred`.
    """
    import pandas as pd

    rows = []
    for i, sample in enumerate(samples):
        sample = sample if isinstance(sample, tuple) else (sample,)
        n_tgt = len(sample) - n_inp
        names = [("x" if n_inp == 1 else f"x{k}") for k in range(n_inp)]
        names += [("y" if n_tgt == 1 else f"y{j}") for j in range(n_tgt)]
        decoded = [_full(x, dataset, k) for k, x in enumerate(sample)]
        row = _row(decoded, names)
        if preds is not None:
            pred = preds[i] if isinstance(preds[i], tuple) else (preds[i],)
            pdec = [_full(p, dataset, n_inp + j) for j, p in enumerate(pred)]
            row.update(_row(pdec, [f"{n}_pred" for n in names[n_inp:]]))
        rows.append(row)
    return pd.DataFrame(rows)


def _full(x: Any, dataset: Any, k: int) -> Any:
    dec = _decoder(dataset, k)
    return x if dec is None else dec.decode(x)
