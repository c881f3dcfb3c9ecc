"""`TypeDispatch`: the per-class table of typed implementations behind `encodes`, `decodes` and `setups`.

A table holds the implementations a class defines for one method name (plain functions, or the
overloads of a plum-dispatched function). Looking up an input type walks the owner's MRO, class by
class: the most specific implementation of the nearest class that has a match wins, so a subclass can
override its parent entirely. Plum's `Signature` ordering decides "most specific", which covers
subclasses, unions and `object`/`Any`. Each resolution is cached per input type, so the hot path is
one dict lookup. Other packages extend a class's table with `@SomeTransform.encodes.dispatch`.

plum (and beartype under it) is imported on first use, by `_plum()`: defining Transforms and registering
implementations only stores functions, and the annotations are parsed at the first lookup, so importing
a library of Transforms costs no plum import (0.14 to 0.4 s of CPU); see the README, "plum is imported when first
needed", and `tests/test_lazy_plum.py`.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types
import typing
import warnings
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["TypeDispatch", "AmbiguousDispatchError"]

# How a result is re-typed after a call; see `dispatch_transforms.retention`.
RETAIN = "retain"  # no return annotation: cast back to the input's type when the result is a supertype of it
KEEP = "keep"  # the class says `retain = False`: return the result as it is


class NoneAlias:
    """The rule of an implementation annotated `-> None`: KEEP, the deprecated spelling (warns once if it returns)."""

    __slots__ = ("func", "where")

    def __init__(self, func: Callable[..., Any], where: str) -> None:
        self.func = func
        self.where = where

    def warn_once(self) -> None:
        """A DeprecationWarning naming the function, the first time it returns a value (once per function)."""
        if self.func in _WARNED:
            return
        _WARNED.add(self.func)
        name = getattr(self.func, "__qualname__", None) or self.where
        code = getattr(self.func, "__code__", None)
        message = (
            f"{name} is annotated `-> None` but returns a value. `-> None` as the switch that "
            "turns return-type retention off is deprecated and stops working in the next release: annotate "
            "what it returns and set `retain = False` on the class (or pass `retain=False` to `Transform(enc=...)`)"
        )
        if code is None:
            warnings.warn(message, DeprecationWarning, stacklevel=4)
        else:  # point at the function's definition, not at the call deep inside a pipeline
            module = getattr(self.func, "__module__", None) or "dispatch_transforms"
            warnings.warn_explicit(message, DeprecationWarning, code.co_filename, code.co_firstlineno, module)


# Functions whose `-> None` deprecation was already reported.
_WARNED: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()

# Every live table, so one registration can invalidate the caches of subclasses' tables.
_TABLES: weakref.WeakSet[TypeDispatch] = weakref.WeakSet()


def clear_caches() -> None:
    """Forget every table's resolutions (after a registration or a change of a class's `retain`)."""
    for table in list(_TABLES):
        table.cache.clear()


# A resolved implementation as stored in the cache: (function, takes_self, return rule).
Resolved = tuple[Callable[..., Any], bool, Any]


def _plum() -> types.ModuleType:
    """The plum module, imported the first time an annotation is parsed or an input type resolved.

    Deferred on purpose (not a hidden cycle): `import plum` imports beartype and costs 0.14 to 0.4 s of CPU, which
    every `import apps_vision` paid before any transform ran. After the first call this is a dict lookup,
    and it only runs on the cold path (parsing, cache misses), never per item.
    """
    return importlib.import_module("plum")


class AmbiguousDispatchError(TypeError):
    """Two implementations match an input type equally well and neither is more specific."""


class _Impl:
    """One registered implementation with its parsed input hint and return rule."""

    __slots__ = ("func", "hint", "ret", "signature")

    def __init__(self, func: Callable[..., Any], hint: Any, ret: Any) -> None:
        self.func = func
        self.hint = hint
        self.ret = ret
        lib = _plum()
        self.signature = lib.Signature(lib.resolve_type_hint(hint))


def _normalise_hint(hint: Any, where: str) -> Any:
    """An input annotation as a type hint plum understands: missing/`Any` -> object, a tuple -> a union."""
    if hint is inspect.Parameter.empty or hint is Any:
        return object
    if isinstance(hint, tuple):
        if not hint or not all(isinstance(h, type) for h in hint):
            raise TypeError(f"{where}: a tuple annotation must hold classes only, got {hint!r}")
        return typing.Union[hint]  # noqa: UP007 (a runtime union built from a tuple)
    if hint is None:
        return type(None)
    if isinstance(hint, type | types.UnionType) or typing.get_origin(hint) is typing.Union:
        return hint
    raise TypeError(f"{where}: the input annotation must be a class, a union or a tuple of classes, got {hint!r}")


def _return_rule(annotations: dict[str, Any], func: Callable[..., Any], where: str) -> Any:
    """RETAIN (no annotation, `Any`, or a non-class hint), the annotated class, or (`-> None`) a `NoneAlias`."""
    if "return" not in annotations:
        return RETAIN
    ret = annotations["return"]
    if ret is None or ret is type(None):
        return NoneAlias(func, where)
    if isinstance(ret, type) and ret is not object:
        return ret
    return RETAIN


def _parse(func: Callable[..., Any], takes_self: bool, where: str) -> _Impl:
    """Read the input annotation (the first argument after `self`) and the return rule of `func`."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: cannot read the signature of {func!r}") from e
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    needed = 2 if takes_self else 1
    if len(positional) < needed:
        expected = "(self, x)" if takes_self else "(x)"
        raise TypeError(f"{where}: {getattr(func, '__name__', func)!r} must accept {expected}")
    name = positional[needed - 1].name
    try:
        annotations = inspect.get_annotations(func, eval_str=True)
    except NameError as e:
        raise TypeError(f"{where}: an annotation of {func.__name__} names an undefined type ({e})") from e
    except TypeError:  # builtins, partials and other callables without __annotations__
        annotations = {}
    hint = _normalise_hint(annotations.get(name, inspect.Parameter.empty), where)
    return _Impl(func, hint, _return_rule(annotations, func, where))


def _expand(obj: Any) -> list[Callable[..., Any]]:
    """The implementation functions of `obj`: the methods of a plum function, or `obj` itself."""
    # A plum function exists only once plum is imported: when it is not, `obj` cannot be one (and
    # registering plain functions must not import plum).
    plum = sys.modules.get("plum")
    if plum is not None and isinstance(obj, plum.Function):
        # The overload pattern: read the overloads themselves rather than asking plum to parse them,
        # so annotations plum does not accept (fastai's tuples of types) work as in plain methods.
        overloads = plum.get_overloads(obj.__wrapped__)
        if overloads:
            return list(overloads)
        seen: list[Callable[..., Any]] = []
        for method in obj.methods:
            if not any(method.implementation is f for f in seen):
                seen.append(method.implementation)
        return seen
    if callable(obj):
        return [obj]
    raise TypeError(f"expected a function or a plum-dispatched function, got {obj!r}")


def hint_name(hint: Any) -> str:
    """A short readable name for a type hint: `int`, `int | str`."""
    if isinstance(hint, type):
        return hint.__name__
    args = typing.get_args(hint)
    if args:
        return " | ".join(hint_name(a) for a in args)
    return repr(hint)


class TypeDispatch:
    """The typed implementations of one method (`encodes`, `decodes`, `setups`) of one class.

    `SomeTransform.encodes` is this table for that class (see `DispatchMethod`); `tfm.encodes(x)`
    calls the implementation matching `type(x)` (or returns `x` when none does).
    `SomeTransform.encodes.dispatch` registers another
    implementation for `SomeTransform` and its subclasses; that is the extension point for other
    packages' types. `owner=None` makes a standalone table (used for `Transform(enc=f)`), whose
    `retain` says whether results are re-typed; an owned table reads its owner's `retain` attribute.
    """

    def __init__(
        self,
        name: str,
        funcs: list[Any] | tuple[Any, ...] = (),
        *,
        owner: type | None = None,
        takes_self: bool = True,
        retain: bool = True,
    ) -> None:
        self.name = name
        self.owner = owner
        self.takes_self = takes_self
        self.retain = retain
        self._sources: list[Any] = list(funcs)
        self._impls: list[_Impl] | None = None
        self.cache: dict[type, Resolved | None] = {}
        _TABLES.add(self)

    # ----------------------------------------------------------------- registration
    def dispatch(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Register `func` as an implementation, keyed by the annotation of its input; returns `func`.

        Usable as a decorator from any module: `@Normalize.encodes.dispatch` then
        `def _(self, x: TensorPoint) -> TensorPoint: ...`. A later registration for an equal
        annotation replaces the earlier one.
        """
        _expand(func)  # validate now: a bad registration fails where it is written
        self._sources.append(func)
        self._impls = None
        clear_caches()
        return func

    def _where(self) -> str:
        owner = self.owner.__name__ if self.owner is not None else "Transform"
        return f"{owner}.{self.name}"

    def impls(self) -> list[_Impl]:
        """This table's own implementations, parsed (lazily, so annotations may name later types)."""
        if self._impls is None:
            parsed: list[_Impl] = []
            for source in self._sources:
                for func in _expand(source):
                    impl = _parse(func, self.takes_self, self._where())
                    parsed = [p for p in parsed if p.signature != impl.signature]
                    parsed.append(impl)
            self._impls = parsed
        return self._impls

    # ----------------------------------------------------------------- lookup
    def _chain(self) -> list[TypeDispatch]:
        """This table, then the same-named tables of the owner's bases in MRO order."""
        if self.owner is None:
            return [self]
        chain = []
        for klass in self.owner.__mro__:
            table = klass.__dict__.get(f"_{self.name}_table")
            if isinstance(table, TypeDispatch):
                chain.append(table)
        return chain

    def _best_own(self, xtype: type) -> _Impl | None:
        target = _plum().Signature(xtype)
        matches = [impl for impl in self.impls() if target <= impl.signature]
        if len(matches) <= 1:
            return matches[0] if matches else None
        best = [
            m
            for m in matches
            if not any(o is not m and o.signature <= m.signature and not m.signature <= o.signature for o in matches)
        ]
        if len(best) > 1:
            names = ", ".join(hint_name(m.hint) for m in best)
            raise AmbiguousDispatchError(
                f"{self._where()}: input type {xtype.__name__} matches several implementations equally well "
                f"({names}); register one for {xtype.__name__} or a common subclass to decide"
            )
        return best[0]

    def lookup(self, xtype: type) -> Resolved | None:
        """The implementation for inputs of type `xtype` (cached), or None to pass them through."""
        try:
            return self.cache[xtype]
        except KeyError:
            pass
        found: Resolved | None = None
        retains = self.retain if self.owner is None else getattr(self.owner, "retain", True)
        for table in self._chain():
            impl = table._best_own(xtype)
            if impl is not None:
                rule = impl.ret if retains or isinstance(impl.ret, NoneAlias) else KEEP
                found = (impl.func, table.takes_self, rule)
                break
        self.cache[xtype] = found
        return found

    def input_types(self) -> list[type]:
        """The classes this table handles, own first then inherited (unions split into their classes).

        Lets a caller ask which types a transform decodes, e.g. to re-type a plain model output as the
        type a target pipeline decodes from.
        """
        found: list[type] = []
        for table in self._chain():
            for impl in table.impls():
                args = typing.get_args(impl.hint) if not isinstance(impl.hint, type) else (impl.hint,)
                found.extend(a for a in args if isinstance(a, type) and a not in found)
        return found

    def handled_types(self) -> list[str]:
        """Names of the input types this table handles, own first then inherited (for reprs)."""
        names: list[str] = []
        for table in self._chain():
            for impl in table.impls():
                name = hint_name(impl.hint)
                if name not in names:
                    names.append(name)
        return names

    # ----------------------------------------------------------------- display and pickling
    def __repr__(self) -> str:
        types_ = ", ".join(self.handled_types()) or "nothing (passes everything through)"
        return f"<{self._where()} handles: {types_}>"

    def __getstate__(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner": self.owner,
            "takes_self": self.takes_self,
            "retain": self.retain,
            "sources": self._sources,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        TypeDispatch.__init__(
            self,
            state["name"],
            state["sources"],
            owner=state["owner"],
            takes_self=state["takes_self"],
            retain=state.get("retain", True),
        )


class DispatchMethod:
    """The class attribute `encodes` (etc.): the class's table, or bound to an instance a callable.

    `SomeTransform.encodes` is the class's `TypeDispatch` (so `.dispatch` registers on it);
    `tfm.encodes(x)` runs the implementation for `type(x)` on one input.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.attr = f"_{name}_table"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return getattr(owner, self.attr)
        return _BoundDispatch(instance, getattr(instance, self.attr))


class _BoundDispatch:
    """`tfm.encodes` etc.: call the matching implementation on one input, without tuple mapping."""

    __slots__ = ("instance", "table")

    def __init__(self, instance: Any, table: TypeDispatch) -> None:
        self.instance = instance
        self.table = table

    def __call__(self, x: Any) -> Any:
        return self.instance._call_one(self.table, x)

    def __repr__(self) -> str:
        return f"<bound {self.table!r} of {type(self.instance).__name__}>"
