"""Instructions of ``Emitter.emit`` after its snapshot, per event, under callgrind: the
event's values checked, its payload written and its outbox row added.

``--capture FILE`` routes ``bench.router_poll_callgrind``'s warmed polls of 400 once
(no valgrind) and pickles each ``emit`` call the router made, in order: its event type,
the snapshot it carried (a pickle keeps which events share one snapshot object), the
emitter's cause and time, the reason and the fields. ``--replay FILE`` emits them again
through emitters whose ``snapshot`` is the captured one (given in the conversation's
place), one writer a poll as a unit of work has, each poll inside ``operator.call``, so
callgrind collects only the emits::

    .venv/bin/python -m bench.emit_callgrind --capture /tmp/emits.pickle
    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/emit.out \\
        .venv/bin/python -m bench.emit_callgrind --replay /tmp/emits.pickle --check
    callgrind_annotate /tmp/emit.out | grep TOTALS   # / the interactions it prints

Unlike ``bench.outbox_add_callgrind`` (which adds event instances: ``OutboxWriter.add``)
this measures the routed interaction's own path (``emit`` to ``OutboxWriter``'s rows
from the values), whatever it goes through. ``--check`` prints a digest of the rows
written (the same before and after a change of that path: its rows' bytes unchanged).
``--promises`` replays the opened events' promises instead (``response_promise_of``,
by keywords as routing calls it; 480 of two polls of 400).
"""

from __future__ import annotations

import argparse
import hashlib
import operator
import pickle
from typing import Any

from libs.common.gc_tuning import tune_for_polls
from services.router.service.events import Emitter, response_promise_of
from services.router.store.outbox import OutboxWriter

POLL = 400


class _Rows:
    """The unit of work's ``insert_later``, its rows kept in order; its ``outbox``."""

    def __init__(self) -> None:
        self.rows: list[tuple[type, dict[str, object]]] = []
        self.outbox = OutboxWriter(self)

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        self.rows.append((model, values))


class _Replayed(Emitter):
    """An emitter whose conversation is the captured snapshot itself."""

    async def snapshot(self, conversation: Any) -> Any:
        return conversation

    def _ready_snapshot(self, conversation: Any) -> Any:  # emit's way to it since stop 35
        return conversation

    def _ready_written(self, conversation: Any) -> Any:
        # the snapshot's way (stop 38's written snapshot is bench.snapshot_callgrind's)
        return None


def capture(path: str, polls: int) -> None:
    from bench.router_poll_callgrind import route_recorded

    captured: list[list[tuple[Any, ...]]] = []
    original = Emitter.emit

    async def recording(
        self: Emitter, event_type: Any, conversation: Any, *, reason: Any = None, **fields: Any
    ) -> str:
        snapshot = await self.snapshot(conversation)  # the same object emit then gets
        captured[-1].append((event_type, snapshot, self.cause, self.now, reason, dict(fields)))
        return await original(self, event_type, conversation, reason=reason, **fields)

    route_recorded(polls, {(Emitter, "emit"): recording}, before_poll=lambda: captured.append([]))
    with open(path, "wb") as file:
        pickle.dump(captured, file)
    events = sum(map(len, captured))
    print(f"captured {events} emits of {polls} polls of {POLL} to {path}")


def _replay(poll: list[tuple[Any, ...]]) -> _Rows:
    rows = _Rows()
    emitter: _Replayed | None = None
    for event_type, snapshot, cause, now, reason, fields in poll:
        if emitter is None or emitter.cause != cause:  # an emitter a cause, as routing has
            emitter = _Replayed(rows, None, cause=cause, now=now)  # type: ignore[arg-type]
        step = emitter.emit(event_type, snapshot, reason=reason, **fields)
        try:
            step.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - emit awaits nothing but the snapshot
            raise RuntimeError("emit suspended")
    return rows


def _promises(values: list[tuple[Any, ...]]) -> None:
    for minutes, due_at, open_now, calendar, timezone, always_open in values:
        # by keywords, as domain.intake.response_promise calls it
        response_promise_of(
            target_minutes=minutes,
            due_at=due_at,
            open_now=open_now,
            calendar=calendar,
            timezone=timezone,
            always_open=always_open,
        )


def replay_promises(path: str) -> None:
    """The captured opened events' promises made again (``response_promise_of``), the
    values of each in one ``operator.call``."""
    with open(path, "rb") as file:
        captured = pickle.load(file)  # noqa: S301 - our own capture
    values = [
        tuple(fields["promise"].__dict__.values())
        for poll in captured
        for *_, fields in poll
        if fields.get("promise") is not None
    ]
    _promises(values)
    tune_for_polls()
    operator.call(_promises, values)
    print(f"made {len(values)} promises of {len(captured) * POLL} interactions")


def replay(path: str, *, check: bool) -> None:
    with open(path, "rb") as file:
        captured = pickle.load(file)  # noqa: S301 - our own capture
    _replay(captured[0])  # warm: imports, plans, writers
    tune_for_polls()  # as the service runs: the capture frozen, not walked by the collector
    digest = hashlib.sha256()
    for poll in captured:
        rows = operator.call(_replay, poll)  # callgrind: --toggle-collect=_operator_call
        for model, values in rows.rows:
            digest.update(repr((model.__name__, sorted(values.items()))).encode())
    events = sum(map(len, captured))
    print(f"replayed {events} emits of {len(captured)} polls ({len(captured) * POLL} interactions)")
    if check:
        print(f"rows digest {digest.hexdigest()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", metavar="FILE")
    parser.add_argument("--replay", metavar="FILE")
    parser.add_argument("--polls", type=int, default=2, help="polls of 400 to capture")
    parser.add_argument("--check", action="store_true", help="print the rows' digest")
    parser.add_argument(
        "--promises", action="store_true", help="replay the opened events' promises instead"
    )
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    if args.capture:
        capture(args.capture, args.polls)
    if args.replay:
        replay_promises(args.replay) if args.promises else replay(args.replay, check=args.check)
