"""Rows read by the driver made the session's persistent objects, as SQLAlchemy's own
loader makes them.

``orm.loading._instance`` (2.1) makes a row it has not seen an object without calling
``__init__`` (``ClassManager.new_instance``), fills its ``__dict__``, gives its state
the identity key, the session and the load path, and puts it in the identity map
(``_add_unpresent``): the object is persistent, every attribute as loaded (no committed
state: nothing changed yet), and a change to it is tracked and written by the flush.
``session.add`` of an object made detached (``make_transient_to_detached``) gives the
same object through the session's save-or-update cascade, its attach and the identity
map's checks: ~56 µs a conversation where the ORM's load took ~28 (thread_time, 300
read by id, load ~17), so a poll of 500 candidates lost what the driver's read saved.
An object the session already holds is returned as it is (the ORM's load does not
overwrite it either), its expired attributes, if any, filled from the row as the ORM's
load fills them. The ORM's load would also fire the ``load`` and
``loaded_as_persistent`` events: the router listens to neither (``tests/integration/
router/test_lookups.py`` holds it so), and these objects fire neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.orm import Mapper, Session, configure_mappers
from sqlalchemy.orm.attributes import instance_state, manager_of_class

from services.router.store.models import UtcDateTime

#: (attribute key, result processor or None), in the order of a row's columns
Processors = Sequence[tuple[str, Callable[[Any], Any] | None]]


class PersistentRows:
    """``objects``: rows of one mapped class's columns as the session's persistent
    objects."""

    def __init__(self, mapper: Mapper[Any], processors: Processors, primary_key: str) -> None:
        """``primary_key``: the attribute key of the (one-column) primary key."""
        self._mapper = mapper
        self._key = primary_key
        self._read = row_reader(
            processors, keeps_none=_keeping_none(mapper), repeating=_repeating(mapper)
        )

    def objects(self, session: Session, rows: Sequence[Sequence[Any]]) -> list[Any]:
        mapper = self._mapper
        identities = session.identity_map
        held = identities.get
        identity_class = mapper._identity_class
        manager = mapper.class_manager
        model = mapper.class_
        # ClassManager.new_instance inlined, the row's values made its __dict__ rather than
        # copied into a new one (unit_of_work.new_row: ~17 K instructions fewer a
        # conversation)
        new, make_state, set_state, _ = row_maker(model)
        unpresent = identities._add_unpresent  # what loading._instance calls
        session_id = session.hash_key
        load_path = mapper._path_registry
        read, key = self._read, self._key
        loaded = []
        for row in rows:
            values = read(row)
            identity = (identity_class, (values[key],), None)
            item = held(identity)
            if item is not None:
                state = instance_state(item)
                if state.expired_attributes:  # as the ORM's load: its expired ones from the row
                    unloaded = state.unloaded
                    item.__dict__.update((name, values[name]) for name in unloaded)
                    state._commit(item.__dict__, unloaded)
            else:
                item = new(model)
                item.__dict__ = values
                state = make_state(item, manager)
                set_state(item, state)
                state.key = identity
                state.session_id = session_id
                state.load_path = load_path
                unpresent(state, identity)
            loaded.append(item)
        return loaded


@cache
def row_maker(
    model: type,
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Any]:
    """What ``ClassManager.new_instance`` calls for ``model``, read once (its mappers
    configured first): the class's ``__new__``, the state's class (the manager's
    ``_state_constructor``, a memoized property), the state's setter, and the manager.
    ``new(model)``, then ``set_state(row, make_state(row, manager))`` is
    ``manager.new_instance()``; a row made so may get its ``__dict__`` assigned before
    its state is set (``unit_of_work.new_row``, ``PersistentRows.objects``)."""
    configure_mappers()
    manager = manager_of_class(model)
    return model.__new__, manager._state_constructor, manager._state_setter, manager


def row_reader(
    processors: Processors, *, keeps_none: frozenset[str], repeating: frozenset[str] = frozenset()
) -> Callable[[Any], Any]:
    """A function of a row (its columns in the order of ``processors``) returning its
    values by attribute key, each through its result processor: what ``dict(zip(keys,
    row, strict=True))`` then each processor over its value gives (a row of another
    length: ValueError), written out for the model's columns: the row unpacked and one
    dict display, the processors called from it, and for the keys in ``keeps_none``
    (processors that return None for None) not called for None. Callgrind, ``objects``
    of a loaded conversation on SQLite (45 columns, 19 processors, about half of its 11
    datetimes None; 300 - 100 rows): 95.6 -> 84.1 K instructions. The keys in
    ``repeating`` are read through ``repeating_values``."""
    env: dict[str, Any] = {}
    names: list[str] = []
    items: list[str] = []
    for index, (key, process) in enumerate(processors):
        name = f"v{index}"
        names.append(name)
        if process is None:
            items.append(f"{key!r}: {name}")
            continue
        env[f"p{index}"] = repeating_values(process) if key in repeating else process
        call = f"p{index}({name})"
        if key in keeps_none:
            call = f"None if {name} is None else {call}"
        items.append(f"{key!r}: {call}")
    # a trailing comma: a one-column row unpacks as well
    source = f"def read(row):\n    {', '.join(names)}, = row\n    return {{{', '.join(items)}}}\n"
    exec(compile(source, f"<row_reader {len(names)} columns>", "exec"), env)  # noqa: S102
    return env["read"]  # type: ignore[no-any-return]


def _keeping_none(mapper: Mapper[Any]) -> frozenset[str]:
    """The column attributes whose result processors return None for None: the router's
    ``UtcDateTime`` (``_sqlite_utc``, ``_aware_utc``, ``process_result_value``) and
    SQLAlchemy's JSON (its processing returns None for None before deserializing)."""
    return frozenset(
        prop.key
        for prop in mapper.column_attrs
        if isinstance(prop.columns[0].type, (UtcDateTime, JSON))
    )


def repeating_values(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` (a JSON column's result processor) for a column whose texts repeat
    from row to row (``models.REPEATING_JSON``: a conversation's flags, tags, skills):
    a text read before gives a copy of the flat list or dict it gave then (items and
    values of immutable types: the copy is what decoding the text again makes, a new
    container of equal items), without decoding it again. Callgrind, ``objects`` of a
    loaded conversation on SQLite (flags of 8 keys, a tag, a skill): 84.1 -> 67.2 K
    instructions. Any other value (not a text, nested, not a container) goes to
    ``process`` each time; the texts kept are dropped when ``_REPEATING_LIMIT`` of them
    are. The values a text gives are immutable-item containers only, so a copy shares
    nothing a caller could change."""
    known: dict[str, Any] = {}

    def read(value: Any) -> Any:
        if type(value) is not str:
            return process(value)
        held = known.get(value)
        if held is not None:
            return held.copy()
        read_value = process(value)
        kind = type(read_value)
        if (kind is dict and _FLAT.issuperset(map(type, read_value.values()))) or (
            kind is list and _FLAT.issuperset(map(type, read_value))
        ):
            if len(known) >= _REPEATING_LIMIT:
                known.clear()
            known[value] = read_value.copy()
        return read_value

    return read


#: ``repeating_values``: immutable item types (a JSON object's keys are texts)
_FLAT = frozenset({str, bool, int, float, type(None)})
_REPEATING_LIMIT = 1024


def _repeating(mapper: Mapper[Any]) -> frozenset[str]:
    """The column attributes marked ``models.REPEATING_JSON``."""
    return frozenset(
        prop.key for prop in mapper.column_attrs if prop.columns[0].info.get("repeating_json")
    )
