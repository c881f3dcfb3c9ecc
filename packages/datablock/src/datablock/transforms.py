"""Type transforms: raw objects → typed tensors (and back), the steps every block is made of."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from datablock.collate import _plain, retype
from datablock.convert import to_tensor
from datablock.vocab import Category, CategoryMap, MultiCategory
from dispatch_transforms import DisplayedTransform, Transform
from typedtensor import TensorCategory, TensorImage, TensorMask, TensorMultiCategory

__all__ = [
    "ToTensor",
    "IntToFloatTensor",
    "Normalize",
    "Categorize",
    "MultiCategorize",
    "OneHotEncode",
    "EncodedMultiCategorize",
    "RegressionSetup",
]

Stats = Sequence[float] | torch.Tensor


class ToTensor(Transform):
    """Items → typed tensors through `to_tensor`: PIL images and HWC arrays → channels-first `TensorImage`
    (uint8 kept; 'L' images → `TensorImageBW`). Other packages add types with `@to_tensor.register`;
    types no one registered pass through unchanged."""

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 5


# The class's encodes table *is* `to_tensor`'s (shared, not copied), so a registration made after this class
# exists reaches it, its subclasses and their instances (test_convert: test_registration_reaches_ToTensor).
ToTensor._encodes_table = to_tensor.table


class IntToFloatTensor(DisplayedTransform):
    """uint8 images → floats in [0, 1] (divided by `div`), masks → long; decodes images back to uint8."""

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 10
    retain = False  # results are already typed (tensor ops keep the type; `retype` re-types the float image)

    def __init__(self, div: float = 255.0, div_mask: float = 1.0) -> None:
        super().__init__()
        self.div, self.div_mask = div, div_mask

    def encodes(self, x: TensorImage | TensorMask) -> torch.Tensor:
        if isinstance(x, TensorMask):
            return (x // self.div_mask).long() if self.div_mask != 1 else x.long()
        if x.is_floating_point():
            return x
        # on the plain data: one new float tensor divided in place, re-typed once (no subclass dispatch per op)
        return retype(_plain(x).float().div_(self.div), x)

    def decodes(self, x: TensorImage) -> torch.Tensor:
        if x.is_floating_point():
            return (x * self.div).round().clamp(0, 255).to(torch.uint8)
        return x


class Normalize(DisplayedTransform):
    """`(x - mean) / std` per channel on image batches, and `x * std + mean` back (for showing).

    `mean` and `std` have one value per channel; `Normalize.from_stats(mean, std)` is the usual spelling.
    Without them (`Normalize()`), the loader it is given to learns them from its first batch, as that
    batch reaches this step (see `setup_from_batch`).
    """

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 99
    retain = False  # image arithmetic keeps the image type; nothing to re-type

    def __init__(self, mean: Stats | None = None, std: Stats | None = None, axis: int = 1) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError("Normalize: give both mean and std, or neither (to learn them from the first batch)")
        self.axis = axis
        self.mean: list[float] | None = None
        self.std: list[float] | None = None
        self._cache: dict[tuple[torch.device, torch.dtype, int], tuple[torch.Tensor, torch.Tensor]] = {}
        if mean is not None and std is not None:
            self._set_stats(mean, std)

    def _set_stats(self, mean: Stats, std: Stats) -> None:
        m = [float(v) for v in torch.as_tensor(mean, dtype=torch.float64).flatten()]
        s = [float(v) for v in torch.as_tensor(std, dtype=torch.float64).flatten()]
        if len(m) != len(s):
            raise ValueError(f"Normalize: mean has {len(m)} values but std has {len(s)}")
        if any(v == 0 for v in s):
            raise ValueError(f"Normalize: std must not contain 0, got {s} (a constant channel cannot be scaled)")
        self.mean, self.std, self._cache = m, s, {}

    @property
    def needs_batch(self) -> bool:
        """True until the stats are known: a loader then calls `setup_from_batch` with its first batch."""
        return self.mean is None

    def setup_from_batch(self, b: Any) -> None:
        """Learn per-channel mean and std from batch `b` (its first image element, channels on `axis`)."""
        x = next((o for o in (b if isinstance(b, tuple) else (b,)) if isinstance(o, TensorImage)), None)
        if x is None:
            raise TypeError(f"Normalize: cannot learn stats: the batch holds no TensorImage ({type(b).__name__})")
        if x.ndim < 2:
            raise ValueError(f"Normalize: cannot learn stats from images of shape {tuple(x.shape)}")
        plain = x.as_subclass(torch.Tensor).to(torch.float64)
        dims = [d for d in range(plain.ndim) if d != self.axis]
        self._set_stats(plain.mean(dims), plain.std(dims))

    @classmethod
    def from_stats(cls, mean: Stats, std: Stats) -> Normalize:
        """A `Normalize` for channels-first image batches from per-channel `mean` and `std`."""
        return cls(mean, std, axis=1)

    def _known_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`mean` and `std` as tensors shaped to broadcast over `x` (cached per device, dtype and rank)."""
        if self.mean is None or self.std is None:
            raise RuntimeError(
                "Normalize: no mean/std yet; pass them (Normalize.from_stats) or give this transform to a "
                "DataLoader's after_batch, which learns them from its first batch"
            )
        key = (x.device, x.dtype, x.ndim)
        if key not in self._cache:
            shape = [1] * x.ndim
            axis = self.axis if x.ndim >= 4 else self.axis - 1  # a single (C, H, W) image has no batch axis
            shape[axis] = len(self.mean)
            dtype = x.dtype if x.is_floating_point() else torch.float32
            mean = torch.tensor(self.mean, dtype=dtype, device=x.device).view(shape)
            std = torch.tensor(self.std, dtype=dtype, device=x.device).view(shape)
            self._cache[key] = (mean, std)
        return self._cache[key]

    def encodes(self, x: TensorImage) -> torch.Tensor:
        mean, std = self._known_stats(x)
        return (x - mean) / std

    def decodes(self, x: TensorImage) -> torch.Tensor:
        mean, std = self._known_stats(x)
        return x * std + mean

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}  # device tensors are rebuilt where they are needed
        return state


class Categorize(DisplayedTransform):
    """Label → `TensorCategory` index, with the vocab learned from the training labels; decodes to `Category`.

    A label absent from the vocab raises an error naming it, unless `add_na=True` (then it maps to '#na#').
    """

    target_type = TensorCategory  # what `decodes` starts from (it also takes plain tensors: model outputs)

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 1
    retain = False  # decodes turns a tensor into a `Category`; nothing is re-typed
    train_setup = True  # the vocab comes from the training split only
    loss_kind = "cross_entropy"  # what this target asks of the model (class axis -1; see losskind.py)

    def __init__(self, vocab: Iterable[Hashable] | None = None, sort: bool = True, add_na: bool = False) -> None:
        super().__init__()
        self.sort, self.add_na = sort, add_na
        self.vocab = None if vocab is None else _as_map(vocab, sort=False, add_na=add_na)

    def setups(self, items: Any) -> None:
        if self.vocab is None and items is not None:
            self.vocab = CategoryMap(items, sort=self.sort, add_na=self.add_na)

    def _map(self) -> CategoryMap:
        if self.vocab is None:
            raise RuntimeError("Categorize: no vocab yet; set it up on the training labels or pass vocab=")
        return self.vocab

    def encodes(self, x: object) -> TensorCategory:
        if isinstance(x, TensorCategory):
            return x
        vocab = self._map()
        proto = self.__dict__.get("_proto")
        if proto is None or proto.vocab is not vocab:
            proto = self._proto = TensorCategory(torch.tensor(0), vocab=vocab)
        # re-typed like a prototype carrying the vocab: half the cost of building one with metadata per label
        return TensorCategory.wrap(
            torch.scalar_tensor(vocab.index(_hashable(x), "Categorize"), dtype=torch.long), like=proto
        )

    def decodes(self, x: torch.Tensor) -> Category | list[Category]:
        # any tensor of class indices: a `TensorCategory`, or a plain one (a model's argmax is plain)
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise TypeError(
                f"Categorize.decode: expected class indices (an integer tensor, e.g. the argmax of the output), "
                f"got {x.dtype} values of shape {tuple(x.shape)}"
            )
        vocab = self._map()
        if x.ndim == 0:
            return Category(vocab[int(x)])
        return [Category(vocab[int(i)]) for i in x.flatten().tolist()]


class MultiCategorize(DisplayedTransform):
    """A list of labels → a `TensorMultiCategory` one-hot vector over the vocab learned from training labels.

    Together with `OneHotEncode` as in fastai: here the one-hot vector is made directly (typedtensor's
    `TensorMultiCategory` is one-hot), and `OneHotEncode` only checks/converts its width.
    Decodes to a `MultiCategory` list of labels.
    """

    target_type = TensorMultiCategory  # what `decodes` starts from (it also takes plain tensors: model outputs)

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 1
    retain = False  # decodes turns a tensor into labels; nothing is re-typed
    train_setup = True
    loss_kind = "bce"

    def __init__(self, vocab: Iterable[Hashable] | None = None, add_na: bool = False) -> None:
        super().__init__()
        self.add_na = add_na
        self.vocab = None if vocab is None else _as_map(vocab, sort=False, add_na=add_na)

    def setups(self, items: Any) -> None:
        if self.vocab is None and items is not None:
            self.vocab = CategoryMap((o for labels in items for o in _labels(labels)), sort=True, add_na=self.add_na)

    def encodes(self, x: object) -> TensorMultiCategory:
        if isinstance(x, TensorMultiCategory):
            return x
        if self.vocab is None:
            raise RuntimeError("MultiCategorize: no vocab yet; set it up on the training labels or pass vocab=")
        out = torch.zeros(len(self.vocab))
        for o in _labels(x):
            out[self.vocab.index(o, "MultiCategorize")] = 1.0
        return TensorMultiCategory(out, vocab=self.vocab)

    def decodes(self, x: torch.Tensor) -> MultiCategory | list[MultiCategory]:
        # a `TensorMultiCategory`, or a plain one-hot / probability tensor (model outputs are plain)
        return _multi_labels(x, self.vocab if self.vocab is not None else getattr(x, "vocab", None), "MultiCategorize")


class OneHotEncode(DisplayedTransform):
    """Class indices (a list or 1-d tensor) → a one-hot float `TensorMultiCategory` of width `c`.

    `c` defaults to the width of the vocab carried by the input (or set up from it); a one-hot input
    of the right width passes through. Decoding keeps the one-hot form (which `MultiCategorize.decodes`
    turns into labels) and re-types a plain tensor (a model's output) as `TensorMultiCategory`; fastai
    decodes to the indices instead.
    """

    target_type = TensorMultiCategory  # what `decodes` starts from (it also takes plain tensors: model outputs)

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 2
    retain = False  # every result is built as a `TensorMultiCategory` already

    def __init__(self, c: int | None = None) -> None:
        super().__init__()
        self.c = c

    def encodes(self, x: TensorMultiCategory | list | torch.Tensor) -> TensorMultiCategory:
        vocab = getattr(x, "vocab", None)
        c = self.c if self.c is not None else (len(vocab) if vocab is not None else None)
        if isinstance(x, TensorMultiCategory) and x.is_floating_point():
            if c is not None and x.shape[-1] != c:
                raise ValueError(f"OneHotEncode: one-hot input has width {x.shape[-1]}, expected c={c}")
            return x
        idxs = torch.as_tensor(x, dtype=torch.long).flatten()
        if c is None:
            raise ValueError("OneHotEncode: pass c=<number of classes> (the input carries no vocab)")
        if len(idxs) and (idxs.min() < 0 or idxs.max() >= c):
            raise ValueError(f"OneHotEncode: indices {idxs.tolist()} are outside [0, {c})")
        out = torch.zeros(c)
        out[idxs] = 1.0
        return TensorMultiCategory(out, vocab=vocab)

    def decodes(self, x: torch.Tensor) -> TensorMultiCategory:
        if isinstance(x, TensorMultiCategory):
            return x  # the one-hot vector is the displayable form (see MultiCategorize.decodes for labels)
        if self.c is not None and (x.ndim == 0 or x.shape[-1] != self.c):
            raise ValueError(f"OneHotEncode.decode: expected (..., {self.c}) values, got shape {tuple(x.shape)}")
        return TensorMultiCategory(x.as_subclass(torch.Tensor))


class EncodedMultiCategorize(DisplayedTransform):
    """Targets that are already one-hot (e.g. 0/1 columns) → `TensorMultiCategory` with `vocab` naming the columns."""

    target_type = TensorMultiCategory  # what `decodes` starts from (it also takes plain tensors: model outputs)

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 1
    retain = False  # decodes turns a tensor into labels; nothing is re-typed
    loss_kind = "bce"

    def __init__(self, vocab: Iterable[Hashable]) -> None:
        super().__init__()
        self.vocab = _as_map(vocab, sort=False, add_na=False)

    def encodes(self, x: object) -> TensorMultiCategory:
        t = torch.as_tensor(np.asarray(x, dtype=np.float32)).flatten()
        if t.numel() != len(self.vocab):
            raise ValueError(f"EncodedMultiCategorize: item has {t.numel()} values, expected {len(self.vocab)}")
        return TensorMultiCategory(t, vocab=self.vocab)

    def decodes(self, x: torch.Tensor) -> MultiCategory | list[MultiCategory]:
        # a `TensorMultiCategory`, or a plain 0/1 or probability tensor (model outputs are plain)
        return _multi_labels(x, self.vocab, "EncodedMultiCategorize")


def _multi_labels(x: torch.Tensor, vocab: Any, where: str) -> MultiCategory | list[MultiCategory]:
    """The labels whose value is over 0.5 in a (c,) vector, or one `MultiCategory` per row of an (n, c) batch."""
    if vocab is None:
        raise RuntimeError(f"{where}.decode: no vocab to name the classes; set it up or pass vocab=")
    t = x.detach().as_subclass(torch.Tensor)
    if t.ndim not in (1, 2) or t.shape[-1] != len(vocab):
        raise ValueError(
            f"{where}.decode: expected one value per class ({len(vocab)}), as (c,) or (n, c), "
            f"got shape {tuple(t.shape)}"
        )
    if t.ndim == 2:
        return [_on_labels(row, vocab) for row in t]
    return _on_labels(t, vocab)


def _on_labels(t: torch.Tensor, vocab: Any) -> MultiCategory:
    """The labels of the classes over 0.5 in one (c,) vector."""
    return MultiCategory(vocab[i] for i in (t > 0.5).nonzero().flatten().tolist())


class RegressionSetup(DisplayedTransform):
    """Numbers (or lists of them) → float tensors; `c`, the number of outputs, is learned at setup."""

    config_safe = True  # rebuilt from plain data by datablock.config (plain arguments only)

    order = 1
    retain = False  # a float tensor of the target, as it comes
    train_setup = True
    loss_kind = "mse"

    def __init__(self, c: int | None = None) -> None:
        super().__init__()
        self.c = c

    def setups(self, items: Any) -> None:
        if self.c is None and items is not None and len(items):
            first = torch.as_tensor(np.asarray(items[0], dtype=np.float32))
            self.c = 1 if first.ndim == 0 else first.numel()

    def encodes(self, x: object) -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            return x.float()
        try:
            return torch.as_tensor(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as e:
            raise ValueError(f"RegressionSetup: target {x!r} is not a number or a list of numbers") from e


def _hashable(x: Any) -> Hashable:
    if isinstance(x, torch.Tensor) and x.ndim == 0:
        return x.item()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _labels(x: Any) -> list[Hashable]:
    if x is None or (isinstance(x, float) and x != x):
        return []
    if isinstance(x, str):
        return [x]
    return [_hashable(o) for o in x]


def _as_map(vocab: Iterable[Hashable], sort: bool, add_na: bool) -> CategoryMap:
    return vocab if isinstance(vocab, CategoryMap) else CategoryMap(vocab, sort=sort, add_na=add_na)
