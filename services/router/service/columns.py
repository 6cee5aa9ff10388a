"""Column values of ORM rows read from the instance's own dict, not through the ORM's
per-attribute descriptors.

An ORM attribute read is a Python-level ``__get__`` called from C: ~3,000 instructions,
against ~450 for a dict lookup (callgrind). Routing an interaction read ~48 of them
(its conversation's queue, priority and channel for every clock and policy lookup, the
agents' for every snapshot): ~10 % of the decision thread's instructions.

The instance dict holds exactly what the descriptor would return for every key in it
(a column's value is the dict's whenever the dict has it); a column missing from it
(expired after a rollback, never set on a new object) is read through the ORM, as
before, by the mapping ``columns`` returns then.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import inspect


def columns(row: object) -> Mapping[str, Any]:
    """``row``'s column values by name, for reading (set them as before: ``set_values``
    or attribute assignment, so that the ORM tracks the change). The instance dict when
    it holds every column (a loaded row: the session never expires them on commit; one
    routing opened: ``_new_conversation`` sets them all), else reads through the ORM."""
    values = row.__dict__
    try:
        # every column and the ORM's state: nothing else is kept on a mapped instance
        if len(values) > _COLUMN_COUNTS[type(row)]:
            return values
    except KeyError:  # the model's first row
        _COLUMN_COUNTS[type(row)] = len(inspect(type(row)).column_attrs)
        return columns(row)
    return _ThroughOrm(row)


#: each model's count of column attributes, by its class. A plain dict, filled at each
#: model's first row (``columns``' KeyError): its subscript is the interpreter's
#: specialized exact-dict lookup, where a dict subclass's (``__missing__``) went the
#: generic way. Callgrind (PYTHONHASHSEED=0, 2,000 - 1,000 reads of a conversation's
#: column through ``columns``): 1,652 -> 1,467 instructions a read (``row.__dict__``'s
#: own: 951); routing reads ~15 an interaction.
_COLUMN_COUNTS: dict[type, int] = {}


class _ThroughOrm(Mapping[str, Any]):
    """A row's columns read through the ORM's descriptors (an expired row loads them)."""

    __slots__ = ("_row",)

    def __init__(self, row: object) -> None:
        self._row = row

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self._row, key)

    def _keys(self) -> list[str]:
        return [attribute.key for attribute in inspect(type(self._row)).column_attrs]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())
