"""Pieces of a routing event's payload JSON, written as pydantic-core writes them
(``OutboxWriter._payload``: ``event.model_dump_json()`` byte for byte).

- ``fields_serializer``: a typed-dict serializer of some of a model's fields, over the
  instance's ``__dict__`` (the rest of an event after the fields the writer splices);
- ``json_time``: a UTC datetime's JSON looked up by instant. pydantic-core writes a
  datetime in ~3 K instructions (callgrind: ``to_json(datetime)`` 5.2 K against 1.9 K
  for a short string); an event's ``occurred_at`` is its poll's one instant
  (``json_time_text``: the same as text);
- ``fields_writer``: a function writing some of a model's fields as text, generated
  from its schema for fields of plain types (text, integers, booleans, UTC datetimes,
  nested models of those), each value's exact type checked as it is written;
- ``emitted_writer``: the same kind of function for an event's members from a given
  field on, reading them from an ``emit`` call's own arguments and its fields' defaults
  (``events.Emitter.emit`` to ``OutboxWriter.add_written``).

Dropped (stop 33, callgrind, the snapshots of two warmed polls of 400, 800 of them):
the snapshot written in pieces (its plain fields by two typed-dict serializers, its
customer by its own, its flags and agent references looked up, its datetimes by
``json_time``) cost 61.7 K instructions a snapshot against the model serializer's 50.3
K: each ``to_json`` call has a fixed cost, and a snapshot's datetimes are its own
(new instants); the stdlib's ``json`` C encoder over the snapshot's plain values
(``c_make_encoder``, ``ensure_ascii`` off: the same text) cost 85.6 K (its non-ASCII
string escaper, ``py_encode_basestring``, alone 19 K). Stop 34: the snapshot written by
a function ``fields_writer``'s generator made for it (str enums and lists of text
added), no ``to_json`` call at all: 4.9 K instructions a snapshot more than the model
serializer (``bench.outbox_payload_parts_callgrind --part add``, 800 snapshots: 89.92 ->
93.80 M; the same text): pydantic-core writes a snapshot's ~50 values faster than
Python code can check and escape them one by one. Not kept. Stop 35: the snapshot's
``__dict__`` by a typed-dict serializer of every field (``fields_serializer``) instead of
the model serializer, the same text: 49.5 -> 49.3 K instructions a snapshot with its
decode (callgrind, the 800 snapshots of two warmed polls): the model serializer's own
checks are not where a snapshot's cost is. Not kept. Stop 37: a function written as
``model_writer`` below but joining every text value once (one join checks that each is
text, one escape of that join says whether any needs escaping) and the whole object
by one more join: 51.2 K a snapshot against pydantic-core's 46.8-47.2 K (``fields_writer``
style with enums and lists: 52.0 K); the snapshot's ``__dict__`` by a typed-dict
serializer with its enums as text: 45.9 K, and its datetimes also as text memoized
by instant: 43.3 K with every instant met before, 63.6 K with none (a snapshot's
inbound time is new): Python's code per value costs what pydantic-core's does.

- ``model_writer``: a model's JSON by ``orjson`` (its ``__dict__`` and its nested
  models'), checked to be what pydantic-core writes: the conversation snapshot of every
  routing event (``OutboxWriter._snapshot_text``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, ClassVar

from pydantic_core import SchemaSerializer, core_schema

from libs.common.model_json import NotWritten as _NotWritten
from libs.common.model_json import plain_schema, writer_namespace


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


#: ``fields_writer``'s functions: a model instance's ``__dict__`` to the text of some of
#: its fields, or None when a value is not of a type the function writes
FieldsWriter = Callable[[dict[str, Any]], str | None]


def fields_writer(model: type, names: tuple[str, ...]) -> FieldsWriter | None:
    """A function writing the fields ``names`` of a ``model`` instance's ``__dict__`` as
    pydantic-core's ``to_json`` writes them inside the instance's object, each member
    after a comma: ``',"queue":"vip","position":null'`` ('' for no names), in the
    model's field order. Or None when a field is not of a kind it writes: the model's
    serialization customised (aliases, exclusions, serializers, computed fields, extras,
    ``ser_json_*`` settings) or a field of another type than text, integer, boolean,
    UTC datetime and nested models of those (each optional).

    The function checks each value's type as it writes it (``str`` or a subclass, whose
    text pydantic-core writes too; exactly ``int``, ``bool``, a ``datetime`` whose
    ``tzinfo`` is ``UTC``, the nested model's own class) and returns None for any other
    value: the caller then has pydantic-core write it.
    Text is escaped by the stdlib ``json``'s C escaper, ``encode_basestring``, which
    escapes what serde_json does (``"``, backslash, control characters; ``\\b \\f \\n
    \\r \\t`` short, the others ``\\u00xx``; nothing else); a text with a lone surrogate,
    which pydantic-core refuses to write, is written here and fails when the text is
    encoded (the store's insert).

    Why: the typed-dict serializer's ``to_json`` call (its fixed cost most of it for an
    event's four to six plain fields) and the join and decode of its bytes cost more:
    callgrind, ``bench.outbox_payload_parts_callgrind --part add`` over 1,760 events of
    two warmed polls of 400, 112.08 -> 106.22 M instructions (3.3 K an event, 7.3 K an
    interaction), the same payloads. Generated as source (``exec``, as
    ``collections.namedtuple``; names from the model's own schema, quoted by ``repr``)
    so that a value costs its type check, its escape and no loop or call of ours."""
    schema = getattr(model, "__pydantic_core_schema__", None)
    if not isinstance(schema, dict):
        return None
    schema, source = _schema_source(schema)
    try:
        pieces = source.fields(schema, names, "values", 1)
    except _NotWritten:
        return None
    body = "\n".join(source.lines)
    joined = ", ".join(pieces)
    text = f"def write(values):\n{body}\n    return ''.join(({joined},))"
    if not pieces:
        text = "def write(values):\n    return ''"
    namespace = dict(source.namespace)
    exec(text, namespace)  # noqa: S102 - generated from the model's schema, see above
    write: FieldsWriter = namespace["write"]
    return write


#: ``emitted_writer``'s functions: ``write(head, *passed, fields)`` to the text of an
#: event's members from its first passed field on, or None (a value of another type)
EmittedWriter = Callable[..., str | None]


def emitted_writer(
    model: type, passed: tuple[str, ...], given: tuple[str, ...]
) -> EmittedWriter | None:
    """A function ``write(head, *values of passed, fields)`` giving ``head`` and then the
    members of a ``model`` instance's JSON from the field ``passed[0]`` on, as
    pydantic-core writes them, and the closing brace: ``head`` is the text of the
    members before (from the caller), the fields ``passed`` (from there on) are read
    from the positional arguments, those ``given`` from the dict ``fields`` (which has
    these keys), every other field from its default. The instance written is the one
    whose ``__dict__`` has those values. None when that cannot be so written: a field
    left to a default factory or required and not given, a name not a field after
    ``passed[0]``, or what ``fields_writer`` does not write. Text is taken only of
    exactly ``str``; otherwise each value is checked as ``fields_writer`` checks it
    and the function gives None for a value of another type.

    Why: a routing event's payload was its values put in the dict of its instance
    (``events._FastEvent.emitted_values``) that a ``fields_writer`` function then read
    back (``OutboxWriter._payload``); written from the call's own values instead: no
    dict, no template copy, no per-value check outside the writer
    (``bench.emit_callgrind``)."""
    schema = getattr(model, "__pydantic_core_schema__", None)
    model_fields = getattr(model, "model_fields", None)
    if not isinstance(schema, dict) or not isinstance(model_fields, dict) or not passed:
        return None
    definitions: dict[str, Any] = {}
    if schema.get("type") == "definitions":
        definitions = {each["ref"]: each for each in schema["definitions"]}
        schema = schema["schema"]
    source = _WriterSource(definitions, exact_text=True)
    arguments = [f"a{index}" for index in range(len(passed))]
    try:
        fields = source.model_fields(schema)
        names = list(fields)
        if passed[0] not in fields:
            return None
        written = names[names.index(passed[0]) :]
        named = {*passed, *given}
        if not named <= set(written) or len(named) != len(passed) + len(given):
            return None  # a name not a field from passed[0] on, or one named twice
        pieces: list[str] = []
        for name in written:
            if name in passed:
                read = arguments[passed.index(name)]
            elif name in given:
                read = f"fields[{name!r}]"
            else:
                info = model_fields[name]
                if info.default_factory is not None or info.is_required():
                    return None
                read = source.constant(info.default)
            pieces.extend(source.member(name, fields[name], read, 1))
    except _NotWritten:
        return None
    body = "\n".join(source.lines)
    joined = ", ".join(["head", *pieces, "'}'"])
    text = (
        f"def write(head, {', '.join(arguments)}, fields):\n{body}\n    return ''.join(({joined}))"
    )
    namespace = dict(source.namespace)
    exec(text, namespace)  # noqa: S102 - generated from the model's schema, see fields_writer
    write: EmittedWriter = namespace["write"]
    return write


#: ``model_writer``'s functions: a model instance to its JSON text, or None
ModelWriter = Callable[[Any], str | None]


def model_writer(model: type) -> ModelWriter | None:
    """A function writing an instance of exactly ``model`` as pydantic-core's ``to_json``
    writes it, as text (``to_json(instance).decode()``), or None where it might not
    write it alike (a nested model not of its field's class exactly, a datetime not in
    ``UTC``; what ``orjson`` refuses: a set, bytes, an integer past 64 bits, a lone
    surrogate, which pydantic-core refuses too): the caller then has pydantic-core
    write it. Other values not of their field's type are written as pydantic-core
    infers them (the same text, without its warning). None instead of a function for a
    model whose serialization is not its fields' plain values (aliases, exclusions,
    serializers, computed fields, extras allowed, ``ser_json_*`` settings) or whose
    fields are not text, str enums, booleans, integers, datetimes, lists of text or
    nested models of those (each optional).

    ``orjson`` writes the instance's ``__dict__`` (every field, in order: what
    pydantic-core writes of a plain model) and each nested model's (in a copy of the
    instance's; deeper ones given by its ``default``), with what pydantic-core writes
    for these types: text escaped as serde_json escapes it (``"``, backslash, control
    characters: ``\\b \\f \\n \\r \\t`` short, others ``\\u00xx``; other text as
    UTF-8), an enum member's value,
    ``true``/``false``/``null``, a UTC datetime as ISO 8601 with ``Z`` (``OPT_UTC_Z``).
    ``tests/unit/router/test_snapshot_json.py`` holds it to pydantic-core's bytes by
    hypothesis.

    Why: pydantic-core's model serializer costs ~48 K instructions a conversation
    snapshot (~50 values, ~1 KB), one a routed interaction; this function ~24 K with
    its checks (callgrind, PYTHONHASHSEED=0, the 800 snapshots of two warmed polls of
    400 written in process, 800 - 400: 48.1 -> 24.1 K; orjson alone, its ``default``
    giving every nested model's ``__dict__``, 18.6 K; the module's note has what
    Python writers cost)."""
    return _generated_writer(model, members=False)


#: ``members_writer``'s functions: a model instance's would-be ``__dict__`` to its JSON
MembersWriter = Callable[[dict[str, Any]], str | None]


def members_writer(model: type) -> MembersWriter | None:
    """``model_writer``'s function for the dict an instance of exactly ``model`` would
    have as its ``__dict__`` (every field, in the model's order, no instance made): the
    same text, or None where ``model_writer``'s gives None. The dict is the caller's to
    give up: each nested model in it is replaced by its ``__dict__`` (no copy), also
    when the function gives None.

    Why: the routed interaction's snapshot is written from the values it is built of
    (``events.Emitter``), without the ``ConversationSnapshot`` put together
    (``constructed``, its fields-set copy) nor the copy ``model_writer`` makes for its
    nested models, nor ``OutboxWriter._snapshot_text`` called an event: callgrind,
    PYTHONHASHSEED=0, ``bench.snapshot_callgrind`` (``--json`` on 6863f81, ``--written``
    here; the 1,760 snapshots of two warmed polls of 400), 75.6 -> 66.6 K instructions
    an interaction, the snapshot and its JSON."""
    return _generated_writer(model, members=True)


def _generated_writer(model: type, *, members: bool) -> Callable[[Any], str | None] | None:
    """``model_writer``'s function, or with ``members`` ``members_writer``'s."""
    classes = _plain_models(model)
    if classes is None:
        return None
    # Generated (as fields_writer's functions) so that a value's check is a few
    # bytecodes, not a loop's turn or a call: the instance's class; each datetime
    # field's value None or a UTC datetime (orjson writes only these alike: pydantic-core
    # truncates an offset's seconds, orjson rounds them); each nested model's value None
    # or of its field's class exactly (pydantic-core writes another by the field's
    # schema), given to orjson as its __dict__ in a copy of the instance's (an orjson
    # ``default`` call a nested model was ~1 K instructions); models nested deeper by
    # ``default``, after the same checks of theirs.
    namespace, names = writer_namespace(classes)
    if members:
        lines = ["def write(members):"]
    else:
        lines = [
            "def write(instance):",
            f"    if type(instance) is not {names[model]}:",
            "        return None",
            "    members = instance.__dict__",
        ]
    lines.extend(f"    {line}" for line in _nested_checks(model, names, "members"))
    nested = [(name, kind) for name, kind in _field_checks(model) if kind is not None]
    # the copy takes each nested model's __dict__ (a failed check below wastes it: rare)
    copied = nested and not members
    lines.append("    written = members.copy()" if copied else "    written = members")
    for name, kind in nested:
        lines.append(f"    value = members[{name!r}]")
        lines.append("    if value is not None:")
        checks = _nested_checks(kind, names, "value.__dict__")
        lines.extend(f"        {line}" for line in checks)
        lines.append(f"        written[{name!r}] = value.__dict__")
    lines.append("    try:")
    lines.append("        return _dumps(written, default=_nested, option=_option).decode()")
    lines.append("    except TypeError:  # orjson.JSONEncodeError is one")
    lines.append("        return None")
    lines.append("def _nested(value):")
    for cls, name in names.items():
        lines.append(f"    if type(value) is {name}:")
        lines.append("        members = value.__dict__")
        checks = _nested_checks(cls, names, "members", fail="raise TypeError")
        lines.extend(f"        {line}" for line in checks)
        lines.append("        return members")
    lines.append("    raise TypeError(f'not written here: {type(value).__name__}')")
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from the model's schema
    write: Callable[[Any], str | None] = namespace["write"]
    return write


def _nested_checks(
    model: type, names: dict[type, str], members: str, fail: str = "return None"
) -> list[str]:
    """Statements checking the datetime and nested model fields of a ``model``
    instance's dict ``members`` (``model_writer``), ``fail`` where one is not as written."""
    lines: list[str] = []
    for name, kind in _field_checks(model):
        lines.append(f"at = {members}[{name!r}]")
        if kind is None:
            lines.append(
                "if at is not None and (type(at) is not _datetime or at.tzinfo is not _UTC):"
            )
        else:
            lines.append(f"if at is not None and type(at) is not {names[kind]}:")
        lines.append(f"    {fail}")
    return lines


def _schema_source(schema: dict[str, Any]) -> tuple[dict[str, Any], _WriterSource]:
    """A model's core schema without its ``definitions`` wrapper, and a source that
    resolves the references to them."""
    definitions: dict[str, Any] = {}
    if schema.get("type") == "definitions":
        definitions = {each["ref"]: each for each in schema["definitions"]}
        schema = schema["schema"]
    return schema, _WriterSource(definitions)


def _field_checks(model: type) -> tuple[tuple[str, type | None], ...]:
    """``model``'s fields that ``model_writer``'s function checks: each datetime field
    (None for its class: a UTC datetime is checked) and each nested model's (its class)."""
    schema = getattr(model, "__pydantic_core_schema__", {})
    schema, source = _schema_source(schema)
    checks: list[tuple[str, type | None]] = []
    for name, field in source.model_fields(schema).items():
        value = source._plain(field["schema"])
        if value["type"] == "nullable":
            value = source._plain(value["schema"])
        if value["type"] == "datetime":
            checks.append((name, None))
        elif value["type"] == "model":
            checks.append((name, value["cls"]))
    return tuple(checks)


def _plain_models(model: type) -> set[type] | None:
    """``model`` and its nested model classes when ``model_writer`` writes them, else None."""
    schema = getattr(model, "__pydantic_core_schema__", None)
    if not isinstance(schema, dict):
        return None
    schema, source = _schema_source(schema)
    classes: set[type] = set()
    try:
        _plain_model(source, schema, classes)
    except _NotWritten:
        return None
    return classes


def _plain_model(source: _WriterSource, schema: dict[str, Any], classes: set[type]) -> None:
    if schema.get("type") != "model":
        raise _NotWritten
    classes.add(schema["cls"])
    for field in source.model_fields(schema).values():
        if field.get("serialization_alias") or field.get("serialization_exclude"):
            raise _NotWritten
        _plain_value(source, field["schema"], classes)


def _plain_value(source: _WriterSource, schema: dict[str, Any], classes: set[type]) -> None:
    schema = source._plain(schema)
    kind = schema["type"]
    if kind == "nullable":
        _plain_value(source, schema["schema"], classes)
    elif kind == "model":
        _plain_model(source, schema, classes)
    elif kind == "list":
        items = source._plain(schema.get("items_schema", {"type": "any"}))
        if items["type"] != "str":
            raise _NotWritten
    elif kind == "enum":
        if schema.get("sub_type") != "str":
            raise _NotWritten
    elif kind not in ("str", "bool", "int", "datetime"):
        raise _NotWritten


class _WriterSource:
    """The statements of a ``fields_writer`` function, built from a model's core schema."""

    def __init__(self, definitions: dict[str, Any], *, exact_text: bool = False) -> None:
        self.definitions = definitions
        #: text only of exactly ``str`` (not a subclass: the caller's checks take no other)
        self.exact_text = exact_text
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "_text": encode_basestring,
            "_texts": json_text,
            "_time": json_time_text,
            "_datetime": datetime,
            "_UTC": UTC,
        }
        self._count = 0

    def constant(self, value: object) -> str:
        """The name of ``value`` in the function's namespace (a field's default)."""
        name = self._name("c")
        self.namespace[name] = value
        return name

    def _name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}{self._count}"

    def fields(
        self, schema: dict[str, Any], names: tuple[str, ...] | None, of: str, depth: int
    ) -> list[str]:
        """The pieces (expressions of text) of ``names`` (None: every field) of the model
        ``schema``, read from the dict ``of``, each member after a comma."""
        pieces: list[str] = []
        for name, field in self.model_fields(schema).items():
            if names is not None and name not in names:
                continue
            pieces.extend(self.member(name, field, f"{of}[{name!r}]", depth))
        return pieces

    def model_fields(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The fields of the model ``schema`` (name to model field), if it is written."""
        if schema.get("type") != "model" or "serialization" in schema:
            raise _NotWritten
        if any(key.startswith("ser_") for key in schema.get("config", {})):
            raise _NotWritten
        if schema.get("config", {}).get("extra_fields_behavior") == "allow":
            raise _NotWritten
        fields_schema = schema.get("schema", {})
        if fields_schema.get("type") != "model-fields" or fields_schema.get("computed_fields"):
            raise _NotWritten
        fields: dict[str, Any] = fields_schema["fields"]
        if any(field.get("type") != "model-field" for field in fields.values()):
            raise _NotWritten
        return fields

    def member(self, name: str, field: dict[str, Any], read: str, depth: int) -> list[str]:
        """The pieces of the member ``name`` (its comma, name and value), its value read
        by the expression ``read``; its statements added."""
        if field.get("serialization_alias") or field.get("serialization_exclude"):
            raise _NotWritten
        value = self._name("v")
        self.lines.append(f"{'    ' * depth}{value} = {read}")
        return [repr(f",{encode_basestring(name)}:"), self.value(field["schema"], value, depth)]

    def value(self, schema: dict[str, Any], value: str, depth: int) -> str:
        """The name of the text of ``value`` written by ``schema``; its statements added."""
        schema = self._plain(schema)
        indent = "    " * depth
        kind = schema["type"]
        text = self._name("t")
        if kind == "nullable":
            self.lines.append(f"{indent}if {value} is None:")
            self.lines.append(f"{indent}    {text} = 'null'")
            self.lines.append(f"{indent}else:")
            inner = self.value(schema["schema"], value, depth + 1)
            self.lines.append(f"{indent}    {text} = {inner}")
        elif kind == "str":
            # a subclass (a StrEnum member in a snapshot's status) is written as its text,
            # as pydantic-core writes it; the exact type checked first, the usual one
            subclass = "" if self.exact_text else f" and not isinstance({value}, str)"
            self.lines.append(
                f"{indent}if type({value}) is not str{subclass}:\n{indent}    return None"
            )
            # exact text (an emit's values) by the memo: an event's texts repeat
            escape = "_texts[{}]" if self.exact_text else "_text({})"
            self.lines.append(f"{indent}{text} = {escape.format(value)}")
        elif kind == "int":
            self.lines.append(f"{indent}if type({value}) is not int:\n{indent}    return None")
            self.lines.append(f"{indent}{text} = str({value})")
        elif kind == "bool":
            self.lines.append(f"{indent}if {value} is True:\n{indent}    {text} = 'true'")
            self.lines.append(f"{indent}elif {value} is False:\n{indent}    {text} = 'false'")
            self.lines.append(f"{indent}else:\n{indent}    return None")
        elif kind == "datetime":
            self.lines.append(
                f"{indent}if type({value}) is not _datetime or {value}.tzinfo is not _UTC:"
                f"\n{indent}    return None"
            )
            self.lines.append(f"{indent}{text} = _time[{value}]")
        elif kind == "model":
            model = self._name("M")
            self.namespace[model] = schema["cls"]
            self.lines.append(f"{indent}if type({value}) is not {model}:\n{indent}    return None")
            members = self._name("d")
            self.lines.append(f"{indent}{members} = {value}.__dict__")
            pieces = self.fields(schema, None, members, depth)
            if pieces:  # the first member's comma becomes the brace
                first = pieces[0]
                pieces[0] = repr("{" + eval(first)[1:])  # noqa: S307 - our own repr
                self.lines.append(f"{indent}{text} = ''.join(({', '.join(pieces)}, '}}'))")
            else:
                self.lines.append(f"{indent}{text} = '{{}}'")
        else:
            raise _NotWritten
        return text

    def _plain(self, schema: dict[str, Any]) -> dict[str, Any]:
        return plain_schema(schema, self.definitions)


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


class _JsonTimeTexts(dict[datetime, str]):
    """``_JsonTimes`` as text (``fields_writer``, ``OutboxWriter._payload``), written
    as ``_JsonTimes`` writes it, not looked up there and decoded: a routed interaction
    misses both memos once or twice (its emitter's time, a new conversation's due time)
    and the other's ``__missing__`` was a second Python call each."""

    LIMIT: ClassVar[int] = 4096

    def __missing__(self, value: datetime) -> str:
        text = '"' + value.isoformat()[:-6] + 'Z"'
        if len(self) >= self.LIMIT:
            self.clear()
        self[value] = text
        return text


#: ``_JsonTimeTexts`` of the process: ``json_time_text[value]`` for a UTC datetime only
json_time_text = _JsonTimeTexts()


class _JsonTexts(dict[str, str]):
    """Text (exactly ``str``) to its JSON as ``encode_basestring`` writes it (what
    pydantic-core writes: see ``fields_writer``). Memoized, bounded (emptied when full).

    Why: an event's texts repeat from interaction to interaction (its reason, a queue's
    name, a policy's hours note, a calendar and its time zone) and a lookup of a text
    whose hash is known costs a fraction of escaping it again (``emitted_writer``'s
    functions: callgrind, ``bench.emit_written_callgrind``)."""

    LIMIT: ClassVar[int] = 4096

    def __missing__(self, value: str) -> str:
        text: str = encode_basestring(value)
        if len(self) >= self.LIMIT:
            self.clear()
        self[value] = text
        return text


#: ``_JsonTexts`` of the process: ``json_text[value]`` for exactly a ``str`` only
json_text = _JsonTexts()
