"""Constructors of hot records (frozen slotted dataclasses, named tuples) without __init__.

A frozen slotted dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (a lookup of the name in the class's MRO each) inside a Python
frame that ``type.__call__`` enters; a NamedTuple's generated ``__new__`` is a Python
frame around ``tuple.__new__``. A poll of the pipeline's web chats builds ~17 such
records a POST (plans, notices, mail metadata, sent-log values), ~6.6 K instructions
each under callgrind. The constructors here make the same objects (type, fields,
equality, hash, repr, frozenness: ``tests/unit/notifier/test_records.py``) with the
slots' own setters, as ``libs.common.cloudevents.cloud_event`` does for its record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

#: prefix of the names ``slot_constructor``'s generated function uses besides the fields
_OWN = "_slot_constructor_"


def slot_constructor(cls: type[T]) -> Callable[..., T]:
    """A function taking every field of the frozen slotted dataclass ``cls`` (in field
    order, positionally or by name; no defaults: every call site says every value) and
    returning what ``cls(...)`` would return for the same values.

    The function's source is generated, as ``dataclasses`` generates ``__init__``: one
    ``object.__new__`` and one slot setter call a field, no frame of the class's own.
    """
    if not is_dataclass(cls) or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__qualname__}: not a slotted dataclass")
    names = _init_fields(cls)
    setters = {f"{_OWN}set_{name}": vars(cls)[name].__set__ for name in names}
    made = f"{_OWN}record"
    body = [f"{_OWN}set_{name}({made}, {name})" for name in names]
    return _generated(cls, "slot_constructor", names, body, setters)


def dict_constructor(cls: type[T]) -> Callable[..., T]:
    """:func:`slot_constructor` for a frozen dataclass without slots: the fields are
    stored in the new object's ``__dict__`` (what the frozen ``__init__``'s
    ``object.__setattr__`` a field stores there), no frame of the class's own.

    The router makes one such record (``Incoming``) of every interaction it routes:
    callgrind, 400 - 200 records, 6.3 -> 3.9 K instructions each with the check of the
    event's type around it (``services.router.consumer``)."""
    if not is_dataclass(cls) or "__slots__" in vars(cls):
        raise TypeError(f"{cls.__qualname__}: not a dataclass with a __dict__")
    names = _init_fields(cls)
    made, values = f"{_OWN}record", f"{_OWN}dict"
    body = [f"{values} = {made}.__dict__"] + [f"{values}[{name!r}] = {name}" for name in names]
    return _generated(cls, "dict_constructor", names, body, {})


def _init_fields(cls: type) -> list[str]:
    """The field names of the frozen dataclass ``cls``, when a generated constructor sets
    them as its ``__init__`` would (else ``TypeError``)."""
    params = vars(cls)["__dataclass_params__"]
    if not params.frozen:
        raise TypeError(f"{cls.__qualname__}: not frozen")
    # What the generated __init__ does beyond setting the fields would be skipped here.
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__}: has __post_init__")
    record_fields = fields(cls)
    if any(not f.init for f in record_fields):
        raise TypeError(f"{cls.__qualname__}: a field outside __init__")
    names = [f.name for f in record_fields]
    # The generated function's own names cannot be a field's (a parameter): a field named
    # ``record`` once set the new object's ``record`` to the object itself (a cycle).
    if any(name.startswith(_OWN) for name in names):
        raise TypeError(f"{cls.__qualname__}: a field named {_OWN}...")
    return names


def _generated(
    cls: type[T], kind: str, names: list[str], body: list[str], extra: dict[str, Any]
) -> Callable[..., T]:
    """``def new_<cls>(<names>)``: ``object.__new__(cls)``, then ``body``, returned."""
    namespace: dict[str, Any] = {f"{_OWN}new": object.__new__, f"{_OWN}cls": cls, **extra}
    made = f"{_OWN}record"
    lines = [
        f"def new_{cls.__name__}({', '.join(names)}):",
        f"    {made} = {_OWN}new({_OWN}cls)",
        *(f"    {line}" for line in body),
        f"    return {made}",
    ]
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from field names only
    constructor: Callable[..., T] = namespace[f"new_{cls.__name__}"]
    constructor.__qualname__ = f"{kind}({cls.__qualname__})"
    constructor.__module__ = cls.__module__
    return constructor


def tuple_constructor(cls: type[T]) -> Callable[[tuple[Any, ...]], T]:
    """A function taking one tuple of every field of the named tuple ``cls`` (in field
    order, no defaults) and returning what ``cls(*values)`` would: ``tuple.__new__`` in C,
    as the named tuple's ``_make`` does, without its Python ``__new__`` frame."""
    if not (issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise TypeError(f"{cls.__qualname__}: not a named tuple")
    return partial(tuple.__new__, cls)
