"""`Transform`: a callable that dispatches on its input's type, maps over tuples, keeps types and can decode.

Subclass and define `encodes`, `decodes` and optionally `setups`, each either a plain typed method,
several typed versions in plum's overload pattern, or (fastai's idiom) the same name defined several
times in the class body, each with its own annotation. A type with no matching implementation passes
through unchanged. `ItemTransform` receives a whole tuple; `DisplayedTransform` shows its arguments
in its repr; `InplaceTransform` mutates its input and returns it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dispatch_transforms.dispatch import KEEP, RETAIN, DispatchMethod, TypeDispatch, clear_caches
from dispatch_transforms.errors import TransformError
from dispatch_transforms.retention import retain

__all__ = ["Transform", "ItemTransform", "DisplayedTransform", "InplaceTransform"]

_METHODS = ("encodes", "decodes", "setups")
_SPLITS = (None, 0, 1)


def _check_split_idx(split_idx: Any, where: str) -> None:
    if split_idx not in _SPLITS or isinstance(split_idx, bool):
        raise ValueError(f"{where}: split_idx must be None (always), 0 (training) or 1 (validation), got {split_idx!r}")


def _is_overload_stub(value: Any) -> bool:
    """Whether `value` is what `typing.overload` leaves in a class body (its versions come with `@dispatch`)."""
    return getattr(value, "__module__", None) == "typing" and getattr(value, "__qualname__", None) == "_overload_dummy"


class _ClassBody(dict[str, Any]):
    """A class body's namespace that remembers every definition of `encodes`, `decodes` and `setups`.

    A plain dict keeps only the last `def encodes`; this one also records each value bound to those
    names, in order, so repeated typed definitions (the fastai idiom) all reach the dispatch table.
    """

    def __init__(self) -> None:
        super().__init__()
        self.definitions: dict[str, list[Any]] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        if key in _METHODS and not _is_overload_stub(value):
            self.definitions.setdefault(key, []).append(value)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.definitions.pop(key, None)
        super().__delitem__(key)


# The class attribute under which the metaclass hands a body's definitions to `_install_tables`
# (removed again once the tables are built).
_DEFINITIONS = "__transform_definitions__"


class _Retain:
    """The `retain` switch: a class attribute that instances read but cannot set.

    It is read when a class's dispatch table resolves an input type (the result is cached per class),
    so an instance-level value would be silently ignored: setting it on an instance raises instead.
    `Transform(enc=f, retain=False)` keeps its own value (its tables are its own).
    """

    def __init__(self, value: bool) -> None:
        self.value = value

    def __get__(self, instance: Any, owner: type | None = None) -> bool:
        if instance is not None:
            own = instance.__dict__.get("_retain")
            if own is not None:
                return bool(own)
        return self.value

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError(
            f"{type(instance).__name__}.retain is a class attribute: set `retain = {value!r}` in the class body "
            "(or pass retain= to Transform(enc=...)), not on an instance"
        )


def _check_retain(value: Any, where: str) -> _Retain:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: retain must be True or False, got {value!r}")
    return _Retain(value)


class _TransformMeta(type):
    """Collects repeated `encodes`/`decodes`/`setups` definitions of a class body through `__prepare__`."""

    @classmethod
    def __prepare__(mcs, name: str, bases: tuple[type, ...], /, **kwargs: Any) -> _ClassBody:
        return _ClassBody()

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
        body = dict(namespace)
        if isinstance(namespace, _ClassBody) and namespace.definitions:
            body[_DEFINITIONS] = {k: list(v) for k, v in namespace.definitions.items()}
        if "retain" in body and not isinstance(body["retain"], _Retain):
            body["retain"] = _check_retain(body["retain"], name)
        return super().__new__(mcs, name, bases, body, **kwargs)

    def __setattr__(cls, key: str, value: Any) -> None:
        if key == "retain":  # `Cls.retain = False` after the class exists: resolved rules change
            value = _check_retain(value, cls.__name__)
            super().__setattr__(key, value)
            clear_caches()
            return
        super().__setattr__(key, value)


class Transform(metaclass=_TransformMeta):
    """A reversible, type-dispatched function: `encodes` on the way in, `decodes` on the way out.

    Called on a tuple it applies to each element separately (by that element's type) and returns a
    tuple; any other object, lists included, is one item. A result whose type is a supertype of the
    input's is cast back to the input's type. `split_idx` (None: always, 0: training only,
    1: validation only) and `order` (position in a `Pipeline`) are class attributes or arguments.

    Build one from functions with `Transform(enc=f, dec=g)`, or decorate a typed function with
    `@Transform`.

    `retain = False` in a class body switches return-type retention off for the class (and its
    subclasses): results come back exactly as `encodes`/`decodes` return them, whatever they are
    annotated with, so return annotations can say what is returned.
    """

    split_idx: int | None = None
    order: int = 0
    train_setup: bool | None = None
    retain = _Retain(True)  # reads as a bool; `retain = False` in a subclass body switches retention off
    enc: Callable[..., Any] | None = None  # the functions given to `Transform(enc=..., dec=...)`, if any
    dec: Callable[..., Any] | None = None

    # `Cls.encodes` is the class's dispatch table; `__init_subclass__` gives every subclass its own.
    encodes = DispatchMethod("encodes")
    decodes = DispatchMethod("decodes")
    setups = DispatchMethod("setups")
    _encodes_table: TypeDispatch
    _decodes_table: TypeDispatch
    _setups_table: TypeDispatch

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _install_tables(cls)

    def __init__(
        self,
        enc: Callable[..., Any] | None = None,
        dec: Callable[..., Any] | None = None,
        split_idx: int | None = None,
        order: int | None = None,
        retain: bool | None = None,
    ) -> None:
        if split_idx is not None:
            _check_split_idx(split_idx, type(self).__name__)
            self.split_idx = split_idx
        if order is not None:
            self.order = order
        if retain is not None:
            if enc is None and dec is None:
                raise TypeError(
                    f"{type(self).__name__}: retain= applies to the functions of Transform(enc=..., dec=...); "
                    "a subclass sets `retain = False` in its class body"
                )
            _check_retain(retain, type(self).__name__)
            self.__dict__["_retain"] = retain  # read by `tfm.retain` (the class attribute cannot be set)
        keep_types = type(self).retain if retain is None else retain
        self._name: str | None = None
        for name, func in (("encodes", enc), ("decodes", dec)):
            if func is None:
                continue
            if not callable(func):
                raise TypeError(f"Transform: {name[:3]} must be a function, got {func!r}")
            setattr(self, f"_{name}_table", TypeDispatch(name, [func], takes_self=False, retain=keep_types))
            setattr(self, name[:3], func)
            if name == "encodes":
                self._name = getattr(func, "__name__", None)

    # ----------------------------------------------------------------- naming
    @property
    def name(self) -> str:
        """The display name: set explicitly, else the `enc` function's name, else the class name."""
        return getattr(self, "_name", None) or type(self).__name__

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    # ----------------------------------------------------------------- calling
    def __call__(self, x: Any, split_idx: int | None = None) -> Any:
        """Encode `x` (element-wise when it is a tuple); skipped when `split_idx` names the other split."""
        if split_idx is not None and self.split_idx is not None and split_idx != self.split_idx:
            return x
        return self._apply(self._encodes_table, x)

    def decode(self, x: Any, split_idx: int | None = None) -> Any:
        """Decode `x` (element-wise when it is a tuple): the inverse of `__call__` where `decodes` exists."""
        if split_idx is not None and self.split_idx is not None and split_idx != self.split_idx:
            return x
        return self._apply(self._decodes_table, x)

    def setup(self, items: Any = None, train_setup: bool = False) -> None:
        """Learn state from `items` by calling `setups` (dispatched on the type of `items`).

        With `train_setup` (or the class attribute of that name) and items that have a `.train`
        attribute, only the training items are used.
        """
        if self.train_setup is not None:
            train_setup = self.train_setup
        if train_setup:
            items = getattr(items, "train", items)
        found = self._setups_table.lookup(type(items))
        if found is None:
            return
        func, takes_self, _ = found
        try:
            func(self, items) if takes_self else func(items)
        except TransformError:
            raise
        except Exception as e:
            raise TransformError(self.name, "setups", items, e) from e

    # The hot path: one call per item per transform in every data pipeline. `_apply` is deliberately
    # written out flat (one cache lookup, one call, the common retention case inline): each extra
    # Python call level costs about as much as the whole dispatch.
    _maps_tuples = True

    def _apply(self, table: TypeDispatch, x: Any) -> Any:
        if self._maps_tuples and isinstance(x, tuple):
            return self._apply_tuple(table, x)
        try:
            found = table.cache[type(x)]
        except KeyError:
            found = table.lookup(type(x))
        if found is None:
            return x
        func, takes_self, rule = found
        try:
            result = func(self, x) if takes_self else func(x)
            if rule is KEEP or type(result) is (type(x) if rule is RETAIN else rule):
                return result
            return retain(result, x, rule)
        except TransformError:
            raise
        except Exception as e:
            raise TransformError(self.name, table.name, x, e) from e

    def _apply_tuple(self, table: TypeDispatch, x: tuple[Any, ...]) -> tuple[Any, ...]:
        # The element path of `_apply`, repeated inline in the loop (saves a call per element).
        out = []
        cache = table.cache
        for e in x:
            if isinstance(e, tuple):
                out.append(self._apply_tuple(table, e))
                continue
            try:
                found = cache[type(e)]
            except KeyError:
                found = table.lookup(type(e))
            if found is None:
                out.append(e)
                continue
            func, takes_self, rule = found
            try:
                result = func(self, e) if takes_self else func(e)
                if not (rule is KEEP or type(result) is (type(e) if rule is RETAIN else rule)):
                    result = retain(result, e, rule)
            except TransformError:
                raise
            except Exception as err:
                raise TransformError(self.name, table.name, e, err) from err
            out.append(result)
        if type(x) is tuple:
            return tuple(out)
        make = getattr(type(x), "_make", None)  # namedtuples
        return make(out) if make is not None else type(x)(out)

    def _call_one(self, table: TypeDispatch, x: Any) -> Any:
        """Apply `table` to `x` as one item, never mapping over a tuple (for `tfm.encodes(x)`)."""
        found = table.lookup(type(x))
        if found is None:
            return x
        func, takes_self, rule = found
        try:
            return retain(func(self, x) if takes_self else func(x), x, rule)
        except TransformError:
            raise
        except Exception as e:
            raise TransformError(self.name, table.name, x, e) from e

    # ----------------------------------------------------------------- display
    def _types_repr(self) -> str:
        lines = []
        for name in ("encodes", "decodes"):
            handled = getattr(self, f"_{name}_table").handled_types()
            lines.append(f"  {name}: {', '.join(handled) if handled else '-'}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{self.name}:\n{self._types_repr()}"


def _sources_of(cls: type, name: str, own: Any) -> list[Any]:
    """The implementations one value bound to `name` in the body of `cls` contributes."""
    if isinstance(own, DispatchMethod) or own is None:  # the base class's descriptors themselves, or nothing
        return []
    if isinstance(own, TypeDispatch):  # `encodes = Other.encodes` in a class body: reuse its implementations
        return list(own._sources)
    if callable(own):
        return [own]
    raise TypeError(f"{cls.__name__}.{name} must be a function or a plum-dispatched function, got {own!r}")


def _install_tables(cls: type[Transform]) -> None:
    """Give `cls` its own dispatch table per method, built from what its body defines.

    Every definition of the name in the body counts, in order (a later one with an equal annotation
    replaces an earlier one), unless the body ends by binding the name to `None`.
    """
    definitions: dict[str, list[Any]] = cls.__dict__.get(_DEFINITIONS, {})
    if _DEFINITIONS in cls.__dict__:
        delattr(cls, _DEFINITIONS)
    for name in _METHODS:
        own = cls.__dict__.get(name)
        values = [] if own is None else definitions.get(name, [own])
        sources = [source for value in values for source in _sources_of(cls, name, value)]
        setattr(cls, f"_{name}_table", TypeDispatch(name, sources, owner=cls))
        if name in cls.__dict__:
            setattr(cls, name, DispatchMethod(name))


_install_tables(Transform)


class ItemTransform(Transform):
    """A Transform that receives a whole tuple (e.g. `(image, label)`) instead of each element."""

    _maps_tuples = False


class InplaceTransform(Transform):
    """A Transform whose `encodes`/`decodes` modify the input in place; the input itself is returned."""

    def _apply(self, table: TypeDispatch, x: Any) -> Any:
        super()._apply(table, x)
        return x

    def _call_one(self, table: TypeDispatch, x: Any) -> Any:
        super()._call_one(table, x)
        return x


class DisplayedTransform(Transform):
    """A Transform whose repr shows its arguments: each `__init__` parameter kept as a same-named attribute."""

    def _arguments(self) -> dict[str, Any]:
        shown = {}
        for param in list(inspect.signature(type(self).__init__).parameters.values())[1:]:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name in self.__dict__:
                shown[param.name] = self.__dict__[param.name]
        return shown

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._arguments().items())
        return f"{self.name}({args}):\n{self._types_repr()}"
