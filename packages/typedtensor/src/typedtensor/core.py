"""`TensorBase`: a `torch.Tensor` subclass whose type and declared metadata survive torch operations.

Every torch function, method and operator runs on the plain data (subclass dispatch switched off, through
`torch._C._disabled_torch_function_impl`) and each tensor it returns is re-typed explicitly:

- the result takes the type and metadata of the **first typed argument** (searching positional
  arguments, then one level into lists/tuples such as the one given to `torch.cat`, then keyword
  arguments);
- when typed arguments of different types meet, `mixed_rules` may name the winner instead
  (e.g. an image times a mask is an image, whichever comes first);
- ops that answer *where* rather than *what* (`argmax`, `argsort`, `nonzero`, ...) return plain
  tensors, see `typedtensor.optables`;
- in-place ops and `out=` return the very tensor they wrote to, with its own type and metadata.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import torch
from torch._C import DisableTorchFunctionSubclass

from typedtensor.canvas import Canvas
from typedtensor.optables import PLAIN_GETTERS, PLAIN_RESULT_OPS, VALUES_INDICES_OPS

__all__ = ["TensorBase", "mixed_rules", "register_mixed_rule", "result_type"]

T = TypeVar("T", bound="TensorBase")

_Tensor = torch.Tensor
_call_plain = torch._C._disabled_torch_function_impl  # runs func with subclass dispatch off; plain results
_getrefcount = sys.getrefcount
_is_compiling = torch.compiler.is_compiling
# the C "structseq" base of torch.return_types.*
_structseq_base: type[tuple[Any, ...]] = torch.return_types.max.__mro__[1]

# The inspectable exceptions to "first typed argument wins": {frozenset({A, B}): winner}, read-only;
# change it with `register_mixed_rule`, which keeps the resolution cache right.
_mixed_rules: dict[frozenset[type], type] = {}
mixed_rules: Mapping[frozenset[type], type] = MappingProxyType(_mixed_rules)
_resolved: dict[tuple[type, type], type | None] = {}


def register_mixed_rule(a: type[TensorBase], b: type[TensorBase], winner: type[TensorBase] | None) -> None:
    """Declare that an op mixing types `a` and `b` (in either order) returns `winner`; None removes the rule."""
    if winner is None:
        _mixed_rules.pop(frozenset((a, b)), None)
    elif winner is not a and winner is not b:
        raise ValueError(f"mixed rule winner must be {a.__name__} or {b.__name__}, got {winner.__name__}")
    else:
        _mixed_rules[frozenset((a, b))] = winner
    _resolved.clear()


def _rule_for(ta: type, tb: type) -> type | None:
    """`ta` or `tb` when a rule names one of them (or a typed base class of one) as the winner, else None."""
    key = (ta, tb)
    if key in _resolved:
        return _resolved[key]
    found = None
    typed_a = [a for a in ta.__mro__ if issubclass(a, TensorBase)]
    typed_b = [b for b in tb.__mro__ if issubclass(b, TensorBase)]
    for a in typed_a:
        for b in typed_b:
            winner = _mixed_rules.get(frozenset((a, b))) if a is not b else None
            if winner is not None:
                found = ta if winner is a else tb
                break
        if found is not None:
            break
    _resolved[key] = found
    return found


def result_type(*types: type) -> type | None:
    """The type an op returns for typed arguments of `types` (in argument order), or None if none is typed."""
    typed = [t for t in types if isinstance(t, type) and issubclass(t, TensorBase)]
    if not typed:
        return None
    first = typed[0]
    for other in typed[1:]:
        if other is not first:
            winner = _rule_for(first, other)
            if winner is not None:
                return winner
    return first


def _typed_args(args: Iterable[Any]) -> Iterable[TensorBase]:
    for a in args:
        if isinstance(a, TensorBase):
            yield a
        elif isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, TensorBase):
                    yield b


def _find_like(args: tuple[Any, ...], kwargs: dict[str, Any] | None, mixed: bool) -> TensorBase | None:
    """The typed argument whose type and metadata the result takes."""
    if not mixed:  # one typed class: the first typed argument, looking one level into lists (torch.cat)
        for a in args:
            if isinstance(a, TensorBase):
                return a
            if type(a) is list or type(a) is tuple:
                for b in a:
                    if isinstance(b, TensorBase):
                        return b
        if kwargs:
            for t in _typed_args(kwargs.values()):
                return t
        return None
    typed = list(_typed_args(args))
    if kwargs:
        typed.extend(_typed_args(kwargs.values()))
    if not typed:
        return None
    winner = result_type(*(type(t) for t in typed))
    for t in typed:
        if type(t) is winner:
            return t
    return typed[0]


def _copy_meta(out: torch.Tensor, like: TensorBase) -> None:
    names = like._meta
    if names:
        src = like.__dict__
        dst = out.__dict__
        for n in names:
            if n in src:
                dst[n] = src[n]


def _retype(ret: Any, like: TensorBase) -> Any:
    """`ret` (a plain tensor, or a tuple/list of them) as `type(like)` with `like`'s metadata."""
    if type(ret) is _Tensor:
        out = ret.as_subclass(type(like))
        _copy_meta(out, like)
        return out
    tr = type(ret)
    if (tr is tuple or tr is list or isinstance(ret, _structseq_base)) and any(type(r) is _Tensor for r in ret):
        items = [_retype(r, like) for r in ret]
        return tr(items)
    return ret


def _traced_torch_function(
    cls: type[TensorBase],
    func: Callable[..., Any],
    types: tuple[type, ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
) -> Any:
    """The `__torch_function__` path torch.compile traces: no C shortcut, no refcounts, `as_subclass(cls)`."""
    with DisableTorchFunctionSubclass():
        ret = func(*args, **kwargs) if kwargs else func(*args)
    if func in PLAIN_RESULT_OPS:
        return ret
    like = _find_like(args, kwargs, len(types) > 1)
    if like is None:
        return ret
    if type(ret) is _Tensor and type(like) is cls:
        out = ret.as_subclass(cls)  # `cls` (not a computed type) lets dynamo trace the re-typing in-graph
        for n in cls._meta:
            value = getattr(like, n)
            if value is not None:
                setattr(out, n, value)
        return out
    if func in VALUES_INDICES_OPS and isinstance(ret, _structseq_base) and len(ret) == 2:
        pair: type[tuple[Any, ...]] = type(ret)  # a torch.return_types class, built from a list
        return pair([_retype(ret[0], like), ret[1]])
    return _retype(ret, like)


def _probe_fresh_refs() -> int:
    ret = torch.empty(0)
    return _getrefcount(ret)


# A result is "fresh" when nothing but the local variable holding it refers to it: then it can
# change class in place (`__class__ = cls`, ~0.05 µs) instead of being aliased by `as_subclass`
# (~0.5 µs, a new TensorImpl). An op that hands back one of its inputs or a stored tensor (`.grad`)
# is referenced elsewhere and takes the aliasing path, so no tensor the caller holds changes type.
# The count is measured with the same code shape as `__torch_function__` uses, not hard-coded.
_FRESH_REFS = _probe_fresh_refs()


class TensorBase(_Tensor):
    """A tensor that keeps its type and declared metadata through every torch op.

    Subclass in one line (`class TensorSpectrogram(TensorImage): ...`). Declare metadata names in
    `_meta` (they add to the parent's); they become keyword-only constructor arguments, are read as
    attributes (None when not given), and travel with the tensor through ops, copies, pickling,
    `torch.save` and DataLoader workers.
    """

    _meta: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        for base in reversed(cls.__mro__[1:]):
            names.extend(base.__dict__.get("_meta", ()))
        names.extend(cls.__dict__.get("_meta", ()))
        meta = tuple(dict.fromkeys(names))
        for n in meta:
            if not n.isidentifier() or n.startswith("__") or hasattr(_Tensor, n):
                raise TypeError(
                    f"{cls.__name__}._meta: {n!r} is not usable as a metadata name (must be a new attribute)"
                )
            if n not in cls.__dict__ and not any(n in b.__dict__ for b in cls.__mro__[1:]):
                setattr(cls, n, None)
        cls._meta = meta

    def __new__(
        cls: type[T],
        data: Any,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        requires_grad: bool | None = None,
        **meta: Any,
    ) -> T:
        """Build from a tensor, array or nested list (sharing memory when possible), with metadata as keywords."""
        cls._check_meta_names(meta)
        if isinstance(data, TensorBase):
            inherited = {n: data.__dict__[n] for n in cls._meta if n in data.__dict__}
            data = data.as_subclass(_Tensor)
            meta = {**inherited, **meta}
        t = torch.as_tensor(data, dtype=dtype, device=device)
        if type(t) is not _Tensor:
            t = t.as_subclass(_Tensor)
        cls._check_shape(t)
        out = t.as_subclass(cls)
        if requires_grad is not None:
            out.requires_grad_(requires_grad)
        out._set_meta(meta)
        return out

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Everything happens in __new__; torch.Tensor.__init__ would reject the metadata keywords.
        pass

    @classmethod
    def _check_meta_names(cls, meta: dict[str, Any]) -> None:
        unknown = [k for k in meta if k not in cls._meta]
        if unknown:
            raise TypeError(
                f"{cls.__name__} got unexpected metadata {', '.join(map(repr, unknown))}; "
                f"expected one of {cls._meta or '() (no metadata)'}"
            )

    @classmethod
    def _check_shape(cls, t: torch.Tensor) -> None:
        """Raise ValueError when `t` cannot hold this type's data (checked in constructors and `cast`)."""

    @classmethod
    def _check_meta_value(cls, name: str, value: Any) -> Any:
        """Validate and normalise one metadata value; subclasses override for their names."""
        del name
        return value

    def _set_meta(self, meta: dict[str, Any]) -> None:
        cls = type(self)
        d = self.__dict__
        for k, v in meta.items():
            d[k] = v if v is None else cls._check_meta_value(k, v)

    @property
    def meta(self) -> dict[str, Any]:
        """The declared metadata of this tensor as a dict (names not set are left out)."""
        d = self.__dict__
        return {n: d[n] for n in type(self)._meta if n in d}

    @classmethod
    def wrap(cls: type[T], t: Any, *, like: TensorBase | None = None, **meta: Any) -> Any:
        """Return `t` as `cls` with the metadata of `like` (then `meta`), sharing memory; the re-typing protocol.

        Only tensors whose type is a base of `cls` (plain tensors, `TensorBase`) are re-typed; a tensor
        already of `cls` or of another semantic type is returned as is, so a transform that chose its
        output type keeps it, and values that are not tensors pass through unchanged. Shapes are not
        checked here (use `cast` or the constructor for that).
        """
        if not isinstance(t, _Tensor):
            return t
        tt = type(t)
        if tt is not _Tensor and (tt is cls or not issubclass(cls, tt)):
            return t
        out = t.as_subclass(cls) if tt is _Tensor else _plain(t).as_subclass(cls)
        if meta:
            cls._check_meta_names(meta)
        if like is not None and isinstance(like, TensorBase):
            src = like.__dict__
            dst = out.__dict__
            for n in cls._meta:
                if n in src:
                    dst[n] = src[n]
        if meta:
            out._set_meta(meta)
        return out

    @classmethod
    def __torch_function__(
        cls,
        func: Callable[..., Any],
        types: tuple[type, ...],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Run `func` on plain data, then give each tensor result the winning argument's type and metadata."""
        if _is_compiling():
            return _traced_torch_function(cls, func, types, args, kwargs)
        if func in PLAIN_GETTERS:  # shape, dtype, device, ndim: answered without any re-typing work
            return _call_plain(func, types, args, {})
        ret = _call_plain(func, types, args, kwargs or {})  # a dict: None trips some C wrappers
        if type(ret) is _Tensor:
            if func in PLAIN_RESULT_OPS:
                return ret
            if len(types) == 1:
                like = args[0] if args and type(args[0]) is cls else _find_like(args, kwargs, False)
            else:
                like = _find_like(args, kwargs, True)
            if like is None:
                return ret
            if _getrefcount(ret) == _FRESH_REFS:
                ret.__class__ = type(like)
                if like._meta:
                    _copy_meta(ret, like)
                return ret
            return _retype(ret, like)
        tr = type(ret)
        if tr is tuple or tr is list or isinstance(ret, _structseq_base):
            if func in PLAIN_RESULT_OPS:
                return ret
            like = _find_like(args, kwargs, len(types) > 1)
            if like is None:
                return ret
            if func in VALUES_INDICES_OPS and isinstance(ret, _structseq_base) and len(ret) == 2:
                return tr([_retype(ret[0], like), ret[1]])
            return _retype(ret, like)
        return ret

    def show(self, ctx: Canvas | None = None, **kwargs: Any) -> Canvas:
        """Draw on `ctx` (a new canvas when None) and return it; a generic tensor shows its values as the title."""
        del kwargs
        ctx = Canvas(0, 0) if ctx is None else ctx
        with DisableTorchFunctionSubclass():
            values = self.detach().cpu().flatten()[:8].tolist()
        ctx.title = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)
        return ctx

    def __deepcopy__(self, memo: dict[int, Any]) -> TensorBase:
        if id(self) in memo:
            return memo[id(self)]
        with DisableTorchFunctionSubclass():
            if not self.is_leaf:
                raise RuntimeError(
                    f"{type(self).__name__}: only graph leaves can be deep-copied (as for torch.Tensor); detach() first"
                )
            requires_grad = self.requires_grad
            with torch.no_grad():
                data = copy.deepcopy(self.as_subclass(_Tensor), memo)
            new = data.as_subclass(type(self))
            if requires_grad:
                new.requires_grad_(True)
        d = self.__dict__
        for n in type(self)._meta:
            if n in d:
                new.__dict__[n] = copy.deepcopy(d[n], memo)
        memo[id(self)] = new
        return new

    # torch's untyped `Tensor.__repr__(self, *, tensor_contents=None)` reads to mypy as a nameless keyword
    def __repr__(self, **kwargs: Any) -> str:  # type: ignore[override]  # see the line above
        with DisableTorchFunctionSubclass():
            text = _Tensor.__repr__(self, **kwargs)
        extra = ", ".join(f"{k}={v!r}" for k, v in self.meta.items())
        return f"{text[:-1]}, {extra})" if extra and text.endswith(")") else text


def _plain(t: torch.Tensor) -> torch.Tensor:
    """`t` viewed as a plain tensor without a trip through `__torch_function__`."""
    if type(t) is _Tensor:
        return t
    with DisableTorchFunctionSubclass():
        return t.as_subclass(_Tensor)
