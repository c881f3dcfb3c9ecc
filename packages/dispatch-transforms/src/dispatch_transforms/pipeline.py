"""`Pipeline`: Transforms composed in `order`, set up stage by stage, decoded in reverse, shown when showable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from dispatch_transforms.transform import Transform

__all__ = ["Pipeline"]


def _as_transform(f: Any, position: int) -> Transform:
    """`f` as a Transform: instances as they are, Transform classes instantiated, functions wrapped."""
    if isinstance(f, Transform):
        return f
    if isinstance(f, type) and issubclass(f, Transform):
        return f()
    if callable(f):
        return Transform(f)
    raise TypeError(
        f"Pipeline: item {position} ({f!r}) is not callable; expected a Transform, a Transform class or a function"
    )


def _flatten(funcs: Any) -> list[Any]:
    if funcs is None:
        return []
    if isinstance(funcs, Pipeline):
        return list(funcs.fs)
    if isinstance(funcs, list | tuple):
        out: list[Any] = []
        for f in funcs:
            out.extend(f.fs if isinstance(f, Pipeline) else [f])
        return out
    return [funcs]


def _is_showable(o: Any) -> bool:
    if hasattr(o, "show"):
        return True
    return isinstance(o, tuple) and len(o) > 0 and all(hasattr(e, "show") for e in o)


class _SetupView(Sequence[Any]):
    """The items as the transforms `fs` turn them out, computed lazily; what a transform is set up on."""

    def __init__(self, items: Any, fs: tuple[Transform, ...], split_idx: int | None) -> None:
        self.items = items
        self.fs = fs
        self.split_idx = split_idx

    def _map(self, o: Any) -> Any:
        for f in self.fs:
            o = f(o, split_idx=self.split_idx)
        return o

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self._map(o) for o in self.items[i]]
        return self._map(self.items[i])

    def __iter__(self) -> Iterator[Any]:
        return (self._map(o) for o in self.items)

    def _subset(self, attr: str) -> _SetupView:
        if not hasattr(self.items, attr):
            raise AttributeError(f"the items given to Pipeline.setup have no '{attr}' subset")
        return _SetupView(getattr(self.items, attr), self.fs, self.split_idx)

    @property
    def train(self) -> _SetupView:
        """The training subset of the items (when they have one), transformed the same way."""
        return self._subset("train")

    @property
    def valid(self) -> _SetupView:
        """The validation subset of the items (when they have one), transformed the same way."""
        return self._subset("valid")

    def __repr__(self) -> str:
        names = " -> ".join(f.name for f in self.fs) or "nothing"
        return f"<{len(self)} items through {names}>"


class Pipeline:
    """Transforms applied in `order` (a stable sort), decoded in reverse order.

    `funcs` may hold Transforms, Transform classes and plain functions (wrapped as `Transform(f)`).
    `split_idx` is passed to every transform, so training-only transforms are skipped when it is 1.
    """

    def __init__(self, funcs: Any = None, split_idx: int | None = None) -> None:
        self.split_idx = split_idx
        self.fs: list[Transform] = []
        for i, f in enumerate(_flatten(funcs)):
            self.fs.append(_as_transform(f, i))
        self.fs.sort(key=lambda t: t.order)

    def setup(self, items: Any = None, train_setup: bool = False) -> None:
        """Set up each transform in turn on `items` as transformed by the transforms before it only.

        `items` are the raw inputs of the pipeline (a sequence; `.train`/`.valid` subsets are kept).
        """
        tfms, self.fs = self.fs, []
        for t in tfms:
            self.add(t, items, train_setup)

    def add(self, ts: Any, items: Any = None, train_setup: bool = False) -> None:
        """Set up `ts` (one transform or several) on `items` through the current pipeline, then append them."""
        for i, t in enumerate(_flatten(ts)):
            tfm = _as_transform(t, len(self.fs) + i)
            view = None if items is None else _SetupView(items, tuple(self.fs), self.split_idx)
            tfm.setup(view, train_setup)
            self.fs.append(tfm)
            self.fs.sort(key=lambda t: t.order)

    def __call__(self, o: Any) -> Any:
        """Apply every transform in order."""
        for f in self.fs:
            o = f(o, split_idx=self.split_idx)
        return o

    def decode(self, o: Any, full: bool = True) -> Any:
        """Undo the transforms in reverse order; with `full=False`, stop as soon as `o` can show itself."""
        for f in reversed(self.fs):
            if not full and _is_showable(o):
                return o
            o = f.decode(o, split_idx=self.split_idx)
        return o

    def show(self, o: Any, ctx: Any = None, **kwargs: Any) -> Any:
        """Decode `o` until it can show itself, then show it (each element of a tuple in turn) into `ctx`."""
        o = self.decode(o, full=False)
        if hasattr(o, "show"):
            return o.show(ctx=ctx, **kwargs)
        if isinstance(o, tuple):
            shown = False
            for e in o:
                if hasattr(e, "show"):
                    ctx = e.show(ctx=ctx, **kwargs)
                    shown = True
            if shown:
                return ctx
        raise TypeError(
            f"Pipeline.show: the decoded object ({type(o).__name__}) has no `show` method, "
            f"nor does any element of it; decode by hand with Pipeline.decode"
        )

    # ----------------------------------------------------------------- container protocol
    @overload
    def __getitem__(self, i: int) -> Transform: ...
    @overload
    def __getitem__(self, i: slice) -> Pipeline: ...
    def __getitem__(self, i: int | slice) -> Transform | Pipeline:
        if isinstance(i, slice):
            return Pipeline(self.fs[i], split_idx=self.split_idx)
        return self.fs[i]

    def __len__(self) -> int:
        return len(self.fs)

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.fs)

    def __repr__(self) -> str:
        return "Pipeline: " + (" -> ".join(f.name for f in self.fs) or "(empty)")
