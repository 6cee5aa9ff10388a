"""A pydantic model's JSON written by ``orjson``, the bytes pydantic-core's ``to_json`` writes.

``json_writer(model)`` generates a function for a model whose JSON is its fields' plain
values: it gives ``orjson`` the instance's ``__dict__`` (every field, in order: what
pydantic-core writes of a plain model) with each nested model's ``__dict__`` in a copy of
it, after checking each value orjson might write otherwise than pydantic-core (see
:func:`json_writer`). The approach of the router's ``store/event_json.model_writer``
(its conversation snapshot), here for the webhook services' ``Interaction``: a model
validator around the model (``Interaction._derive_key``) and lists of nested models
(``attachments``, written here only when empty) are what it adds.
``tests/unit/test_model_json.py`` holds it to pydantic-core's bytes by hypothesis.

Why: pydantic-core's model serializer cost ~57 K instructions a web-chat interaction
(~1.2 KB, ~60 values, seven nested models); orjson over the dicts ~26 K (callgrind,
PYTHONHASHSEED=0, 500 - 250 interactions of ``bench.webhook_parts_callgrind``'s requests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

#: ``json_writer``'s functions: an instance to its JSON bytes, or None (pydantic-core's)
JsonWriter = Callable[[Any], bytes | None]


class NotWritten(Exception):
    """A schema a generated writer does not write (here and in the router's
    ``store/event_json``)."""


#: the JSON schema inputs of a plain validator function (no serializer: pydantic-core
#: writes its value by the value's type) whose values are written as that schema writes them
_INFERRED_AS_DECLARED = frozenset({"datetime"})


def plain_schema(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without what does not change how a value is written: defaults,
    references to ``definitions``, validator functions (without a serializer; a plain one
    of a datetime as a datetime);
    ``NotWritten`` for a schema with a serializer of its own."""
    while True:
        if "serialization" in schema:
            raise NotWritten
        kind = schema.get("type")
        if kind == "default":
            schema = schema["schema"]
        elif kind == "definition-ref":
            schema = definitions[schema["schema_ref"]]
        elif kind in ("function-wrap", "function-before", "function-after"):
            schema = schema["schema"]
        elif (
            kind == "function-plain"
            and schema.get("json_schema_input_schema", {}).get("type") in _INFERRED_AS_DECLARED
        ):
            # a plain validator function (``UtcDatetime``'s) is written by its value's type:
            # a datetime as the datetime schema writes it
            return schema["json_schema_input_schema"]
        else:
            return schema


def writer_namespace(classes: Iterable[type]) -> tuple[dict[str, Any], dict[type, str]]:
    """A generated writer's globals (orjson's ``dumps`` and option, ``datetime``,
    ``UTC``, each model class as ``M<n>``, numbered by qualified name) and each class's
    name in its source."""
    namespace: dict[str, Any] = {
        "_dumps": orjson.dumps,
        "_option": orjson.OPT_UTC_Z,
        "_datetime": datetime,
        "_UTC": UTC,
    }
    names: dict[type, str] = {}
    for index, cls in enumerate(sorted(classes, key=lambda each: each.__qualname__)):
        names[cls] = f"M{index}"
        namespace[f"M{index}"] = cls
    return namespace, names


def json_writer(model: type) -> JsonWriter | None:
    """A function writing an instance of exactly ``model`` as pydantic-core's ``to_json``
    writes it, or None where it might not write it alike: the caller then has
    pydantic-core write it. None is given for an instance of another class, a nested
    model not of its field's class exactly, a datetime not in ``UTC`` (pydantic-core
    truncates an offset's seconds, orjson rounds them), a list of models not empty, a
    ``__dict__`` without every field, and what ``orjson`` refuses (an integer past 64
    bits, a lone surrogate, which pydantic-core refuses too; a set, bytes). Other values
    not of their field's type are written as pydantic-core infers them (the same text,
    without its warning).

    None instead of a function for a model whose serialization is not its fields'
    plain values (aliases, exclusions, serializers, computed fields, extras allowed,
    ``ser_json_*`` settings) or whose fields are not text, str enums, booleans,
    integers, datetimes, lists of text, lists of models or nested models of those
    (each optional). What orjson writes of these is pydantic-core's: text escaped as
    serde_json escapes it (``"``, backslash, control characters: ``\\b \\f \\n \\r
    \\t`` short, others ``\\u00xx``; other text as UTF-8), an enum member's value,
    ``true``/``false``/``null``, a UTC datetime as ISO 8601 with ``Z``
    (``OPT_UTC_Z``)."""
    schema = getattr(model, "__pydantic_core_schema__", None)
    if not isinstance(schema, dict):
        return None
    source = _Schemas(schema)
    try:
        top = source.model(source.root)
        if top["cls"] is not model:
            return None
        shapes = {model: source.shape(top)}
        pending = [kind for kind in shapes[model].nested.values()]
        while pending:
            kind = pending.pop()
            if kind not in shapes:
                shapes[kind] = source.shape(source.by_class[kind])
                pending.extend(shapes[kind].nested.values())
    except NotWritten:
        return None
    return _generated(model, shapes)


class _Shape:
    """What ``json_writer``'s function checks of one model class's ``__dict__``."""

    def __init__(self, size: int) -> None:
        self.size = size  # how many fields
        self.times: list[str] = []  # datetime fields
        self.nested: dict[str, type] = {}  # nested model fields, by their class
        self.model_lists: list[str] = []  # lists of models: written only when empty


class _Schemas:
    """A model's core schema, its definitions resolved."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.definitions: dict[str, Any] = {}
        if schema.get("type") == "definitions":
            self.definitions = {each["ref"]: each for each in schema["definitions"]}
            schema = schema["schema"]
        self.root = schema
        self.by_class: dict[type, dict[str, Any]] = {}

    def plain(self, schema: dict[str, Any]) -> dict[str, Any]:
        return plain_schema(schema, self.definitions)

    def model(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The model schema ``schema`` is (around its validators), if it is written."""
        schema = self.plain(schema)
        if schema.get("type") != "model":
            raise NotWritten
        config = schema.get("config", {})
        if any(key.startswith("ser_") for key in config):
            raise NotWritten
        if config.get("extra_fields_behavior") == "allow":
            raise NotWritten
        fields_schema = schema.get("schema", {})
        if fields_schema.get("type") != "model-fields" or fields_schema.get("computed_fields"):
            raise NotWritten
        if any(field.get("type") != "model-field" for field in fields_schema["fields"].values()):
            raise NotWritten
        known = self.by_class.setdefault(schema["cls"], schema)
        if known is not schema and known != schema:
            raise NotWritten  # one class, two schemas: not told apart by its type
        return schema

    def shape(self, schema: dict[str, Any]) -> _Shape:
        fields: dict[str, Any] = schema["schema"]["fields"]
        shape = _Shape(len(fields))
        for name, field in fields.items():
            if field.get("serialization_alias") or field.get("serialization_exclude"):
                raise NotWritten
            value = self.plain(field["schema"])
            if value["type"] == "nullable":
                value = self.plain(value["schema"])
            kind = value["type"]
            if kind == "datetime":
                shape.times.append(name)
            elif kind == "model":
                shape.nested[name] = self.model(value)["cls"]
            elif kind == "list":
                items = self.plain(value.get("items_schema", {"type": "any"}))
                if items["type"] == "model":
                    self.model(items)
                    shape.model_lists.append(name)
                elif items["type"] != "str":
                    raise NotWritten
            elif kind == "enum":
                if value.get("sub_type") != "str":
                    raise NotWritten
            elif kind not in ("str", "bool", "int"):
                raise NotWritten
        return shape


def _checks(shape: _Shape, names: dict[type, str], members: str, indent: str) -> list[str]:
    """Statements returning None where ``members`` (a ``__dict__`` of ``shape``'s class)
    is not written alike (``json_writer``)."""
    lines = [f"{indent}if len({members}) != {shape.size}:", f"{indent}    return None"]
    for name in shape.times:
        lines.append(f"{indent}at = {members}[{name!r}]")
        lines.append(
            f"{indent}if at is not None and (type(at) is not _datetime or at.tzinfo is not _UTC):"
        )
        lines.append(f"{indent}    return None")
    for name in shape.model_lists:
        lines.append(f"{indent}if {members}[{name!r}]:")
        lines.append(f"{indent}    return None")
    return lines


def _generated(model: type, shapes: dict[type, _Shape]) -> JsonWriter:
    """The writer's source (generated so that a value's check is a few bytecodes, not a
    loop's turn or a call): the instance's class and checks; each nested model's value
    None or of its field's class exactly, its checks, its ``__dict__`` put in a copy of
    the instance's; deeper models the same, in a copy of theirs."""
    namespace, names = writer_namespace(shapes)
    lines = [
        "def write(instance):",
        f"    if type(instance) is not {names[model]}:",
        "        return None",
        "    members = instance.__dict__",
    ]
    lines.extend(_nested(shapes, names, model, "members", "written", "    ", 0))
    lines.append("    try:")
    lines.append("        return _dumps(written, option=_option)")
    lines.append("    except TypeError:  # orjson.JSONEncodeError is one")
    lines.append("        return None")
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from the model's schema
    write: JsonWriter = namespace["write"]
    return write


def _nested(
    shapes: dict[type, _Shape],
    names: dict[type, str],
    cls: type,
    members: str,
    written: str,
    indent: str,
    depth: int,
) -> list[str]:
    """Statements checking the dict ``members`` of a ``cls`` instance and making
    ``written``: it, or its copy with its nested models' written dicts."""
    shape = shapes[cls]
    lines = _checks(shape, names, members, indent)
    if not shape.nested:
        lines.append(f"{indent}{written} = {members}")
        return lines
    lines.append(f"{indent}{written} = {members}.copy()")
    for name, kind in shape.nested.items():
        value, inner, inner_written = f"v{depth}", f"d{depth}", f"w{depth}"
        lines.append(f"{indent}{value} = {members}[{name!r}]")
        lines.append(f"{indent}if {value} is not None:")
        lines.append(f"{indent}    if type({value}) is not {names[kind]}:")
        lines.append(f"{indent}        return None")
        lines.append(f"{indent}    {inner} = {value}.__dict__")
        deeper = _nested(shapes, names, kind, inner, inner_written, indent + "    ", depth + 1)
        lines.extend(deeper)
        lines.append(f"{indent}    {written}[{name!r}] = {inner_written}")
    return lines
