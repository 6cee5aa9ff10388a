"""Instructions of ``Emitter.emit`` whole, per interaction, under callgrind: the routed
interaction's way since stop 38 (the snapshot's JSON from the conversation's values,
``Emitter._ready_written``, the event's members by its generated writer, the row by
``OutboxWriter.add_json``), replayed in process.

The warmed router (``bench.router_poll_callgrind.warmed_router``) routes ``--polls``
polls of 400 while every ``emit`` call is recorded: its emitter, the event type, reason,
fields and ``unchanged``, and a copy of its conversation's values at the call (routing
changes them after; an event the caller said was ``unchanged`` gets its predecessor's
copy, as ``emit`` compares the conversation by identity). Then the calls are made again
in order inside ``operator.call``, each emitter as it was before its first call (no last
snapshot, its parsed values as then) over a unit of work of its poll's that keeps the
rows (its cache, with the poll's assignment pool, the real one's)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/emit.out \\
        .venv/bin/python -m bench.emit_written_callgrind
    callgrind_annotate /tmp/emit.out | grep TOTALS   # / the interactions it prints

``bench.emit_callgrind`` replays the events over captured snapshot objects (the way
before stop 38); ``bench.snapshot_callgrind --written`` measures ``_ready_written``
alone. The digest printed is of the rows written (event ids, types, payloads); it
follows the wall clock (the traffic's times), so two trees are compared by the unit
tests, not by it, unless run in the same minute.
"""

from __future__ import annotations

import argparse
import hashlib
import operator
from typing import Any

from bench.router_poll_callgrind import POLL, route_recorded
from libs.common.gc_tuning import tune_for_polls
from services.router.service.events import Emitter
from services.router.store.outbox import OutboxWriter


class _Unit:
    """A unit of work as ``emit`` uses one: its cache, its outbox, the rows kept."""

    def __init__(self, cache: dict[str, Any]) -> None:
        self.cache = cache
        self.rows: list[tuple[type, Any]] = []
        self.outbox = OutboxWriter(self)

    def insert_later(self, model: type, values: Any) -> None:
        self.rows.append((model, values))


class _Call:
    __slots__ = ("conversation", "emitter", "event_type", "fields", "reason", "unchanged")

    def __init__(self, emitter: Emitter, conversation: Any, event_type: type, reason: Any,
                 unchanged: bool, fields: dict[str, Any]) -> None:  # fmt: skip
        self.emitter = emitter
        self.conversation = conversation
        self.event_type = event_type
        self.reason = reason
        self.unchanged = unchanged
        self.fields = fields


def frozen(conversation: Any) -> Any:
    """An instance of the conversation's class holding a copy of its values now."""
    copy = object.__new__(type(conversation))
    copy.__dict__.update(conversation.__dict__)
    return copy


def record(polls: int) -> tuple[list[list[_Call]], dict[int, dict[Any, Any]]]:
    """The ``emit`` calls of each poll, and each emitter's parsed values at its first."""
    polls_calls: list[list[_Call]] = []
    parsed: dict[int, dict[Any, Any]] = {}
    last: dict[int, tuple[Any, Any]] = {}  # per emitter: its last conversation, copied
    original = Emitter.emit

    async def recording(
        self: Emitter,
        event_type: Any,
        conversation: Any,
        *,
        reason: Any = None,
        unchanged: bool = False,
        **fields: Any,
    ) -> str:
        parsed.setdefault(id(self), dict(self._parsed))
        before = last.get(id(self))
        if unchanged and before is not None and before[0] is conversation:
            copy = before[1]  # the caller's word: emit compares it by identity
        else:
            copy = frozen(conversation)
        last[id(self)] = (conversation, copy)
        polls_calls[-1].append(_Call(self, copy, event_type, reason, unchanged, dict(fields)))
        return await original(
            self, event_type, conversation, reason=reason, unchanged=unchanged, **fields
        )

    route_recorded(
        polls, {(Emitter, "emit"): recording}, before_poll=lambda: polls_calls.append([])
    )
    return polls_calls, parsed


def prepared(calls: list[_Call], parsed: dict[int, dict[Any, Any]]) -> _Unit:
    """A poll's unit of work, its emitters as before their first call, over it."""
    emitters = {id(call.emitter): call.emitter for call in calls}
    unit = _Unit(next(iter(emitters.values())).uow.cache if emitters else {})
    for emitter in emitters.values():
        emitter.uow = unit  # type: ignore[assignment]
        emitter._last_snapshot = emitter._last_written = emitter._last_emitted = None
        emitter._parsed = parsed[id(emitter)].copy()
    return unit


def replay(calls: list[_Call]) -> None:
    for call in calls:
        step = call.emitter.emit(
            call.event_type,
            call.conversation,
            reason=call.reason,
            unchanged=call.unchanged,
            **call.fields,
        )
        try:
            step.send(None)
        except StopIteration:
            continue
        step.close()
        raise RuntimeError("emit suspended: not the routed interaction's way")


def rows_only(polls_calls: list[list[_Call]], parsed: dict[int, dict[Any, Any]]) -> None:
    """``--rows``: each emit's ``OutboxWriter.add_json`` call recorded in a replay, then
    made again alone (its row, its id) inside ``operator.call``."""
    recorded: list[list[tuple[Any, ...]]] = []
    original = OutboxWriter.add_json

    def recording(self: OutboxWriter, *args: Any, cause: str) -> str:
        recorded[-1].append((*args, cause))
        return original(self, *args, cause=cause)

    OutboxWriter.add_json = recording  # type: ignore[method-assign]
    try:
        for calls in polls_calls:
            recorded.append([])
            prepared(calls, parsed)
            replay(calls)
    finally:
        OutboxWriter.add_json = original  # type: ignore[method-assign]

    def add(poll: list[tuple[Any, ...]]) -> _Unit:
        unit = _Unit({})
        add_json = unit.outbox.add_json
        for model, about, snapshot_json, occurred_at, tail, cause in poll:
            add_json(model, about, snapshot_json, occurred_at, tail, cause=cause)
        return unit

    for poll in recorded:
        add(poll)  # warm
    tune_for_polls()
    for poll in recorded:
        operator.call(add, poll)  # callgrind: --toggle-collect=_operator_call
    print(f"{sum(map(len, recorded))} rows added of {len(recorded)} polls of {POLL}")


def main(args: argparse.Namespace) -> None:
    polls_calls, parsed = record(args.polls)
    if args.rows:
        rows_only(polls_calls, parsed)
        return
    for calls in polls_calls:  # warm: writers, plans, caches
        replay_unit = prepared(calls, parsed)
        replay(calls)
    tune_for_polls()
    digest = hashlib.sha256()
    events = 0
    for calls in polls_calls:
        replay_unit = prepared(calls, parsed)
        operator.call(replay, calls)  # callgrind: --toggle-collect=_operator_call
        for model, row in replay_unit.rows:
            digest.update(repr((model.__name__, sorted(row.items()))).encode())
        events += len(calls)
    print(
        f"{events} emits replayed of {len(polls_calls)} polls of {POLL}"
        f" ({len(polls_calls) * POLL} interactions); rows digest {digest.hexdigest()}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=2, help="measured polls of 400")
    parser.add_argument(
        "--rows", action="store_true", help="only the rows: OutboxWriter.add_json's calls"
    )
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
