"""Pieces of a routing event's payload JSON, written as pydantic-core writes them
(``OutboxWriter._payload``: ``event.model_dump_json()`` byte for byte).

- ``fields_serializer``: a typed-dict serializer of some of a model's fields, over the
  instance's ``__dict__`` (the rest of an event after the fields the writer splices);
- ``json_time``: a UTC datetime's JSON looked up by instant. pydantic-core writes a
  datetime in ~3 K instructions (callgrind: ``to_json(datetime)`` 5.2 K against 1.9 K
  for a short string); an event's ``occurred_at`` is its poll's one instant.

Dropped (stop 33, callgrind, the snapshots of two warmed polls of 400, 800 of them):
the snapshot written in pieces (its plain fields by two typed-dict serializers, its
customer by its own, its flags and agent references looked up, its datetimes by
``json_time``) cost 61.7 K instructions a snapshot against the model serializer's 50.3
K: each ``to_json`` call has a fixed cost, and a snapshot's datetimes are its own
(new instants); the stdlib's ``json`` C encoder over the snapshot's plain values
(``c_make_encoder``, ``ensure_ascii`` off: the same text) cost 85.6 K (its non-ASCII
string escaper, ``py_encode_basestring``, alone 19 K).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, ClassVar

from pydantic_core import SchemaSerializer, core_schema


def fields_serializer(model: type, names: tuple[str, ...]) -> SchemaSerializer | None:
    """A serializer of a ``model`` instance's ``__dict__`` as a typed dict of the fields
    ``names`` only (others in the dict are skipped), in the dict's order, each with its
    own field's schema (aliases, exclusions): the bytes ``to_json(instance,
    include=names)`` writes, without the model serializer's per-call inclusion set and
    instance checks. None for a model whose schema is not plain fields (a model or
    field serializer of its own, computed fields, extras)."""
    schema = copy.deepcopy(getattr(model, "__pydantic_core_schema__", None))
    if not isinstance(schema, dict):
        return None
    outer = schema if schema.get("type") == "definitions" else None
    inner = schema["schema"] if outer is not None else schema
    if inner.get("type") != "model" or "serialization" in inner:
        return None
    fields_schema = inner.get("schema", {})
    if fields_schema.get("type") != "model-fields" or fields_schema.get("computed_fields"):
        return None
    if inner.get("config", {}).get("extra_fields_behavior") == "allow":
        return None
    fields: dict[str, Any] = {}
    for name, field in fields_schema["fields"].items():
        if field.get("type") != "model-field" or "serialization" in field["schema"]:
            return None
        if name not in names:
            continue
        fields[name] = {
            "type": "typed-dict-field",
            "required": True,
            **{key: value for key, value in field.items() if key in _TYPED_DICT_FIELD_KEYS},
        }
    typed = core_schema.typed_dict_schema(fields, extra_behavior="ignore")
    if outer is not None:
        outer["schema"] = typed
        typed = outer  # type: ignore[assignment]  # a definitions schema around it
    return SchemaSerializer(typed, inner.get("config"))


#: what a model field and a typed dict field both say about serializing it
_TYPED_DICT_FIELD_KEYS = frozenset({"schema", "serialization_alias", "serialization_exclude"})


class _JsonTimes(dict[datetime, bytes]):
    """A datetime in UTC (exactly ``datetime``, its ``tzinfo`` the ``UTC`` object) to its
    JSON as pydantic-core writes it: ``isoformat`` with ``Z`` for the offset, e.g.
    ``"2026-12-01T08:30:00.500000Z"``. Memoized, bounded (emptied when full). Look up
    only such datetimes (``json_time``): an equal instant in another zone is an equal
    key, and its text is not this one."""

    LIMIT: ClassVar[int] = 4096

    def __missing__(self, value: datetime) -> bytes:
        text = b'"' + value.isoformat()[:-6].encode() + b'Z"'
        if len(self) >= self.LIMIT:
            self.clear()
        self[value] = text
        return text


#: ``_JsonTimes`` of the process: ``json_time[value]`` for a UTC datetime only
json_time = _JsonTimes()
