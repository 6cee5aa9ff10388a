"""Instructions of ``OutboxWriter.add`` per event, under callgrind, without the router.

``--capture FILE`` routes ``bench.router_poll_callgrind``'s warmed polls of 400 once
(no valgrind) and pickles the ``(event, cause)`` pairs the router's ``OutboxWriter.add``
got, in order (a pickle keeps which events share one snapshot object, as ``add``
sees them). ``--replay FILE`` adds them to fresh writers, one per poll as a unit of
work has, each poll inside ``operator.call``, so callgrind collects only the adds::

    .venv/bin/python -m bench.outbox_add_callgrind --capture /tmp/events.pickle
    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/add.out \\
        .venv/bin/python -m bench.outbox_add_callgrind --replay /tmp/events.pickle
    callgrind_annotate /tmp/add.out | grep TOTALS   # / the events it prints

A minute's capture, then seconds per measurement under callgrind instead of the
several minutes of ``bench.router_decision_parts`` (which routes the polls under it).
Since stop 35 ``Emitter.emit`` writes a routed interaction's events through
``OutboxWriter.add_written`` (payloads written from its values: ``bench.emit_callgrind``
replays those); ``add_values`` and ``add`` are its fallbacks (an event without a
generated writer, a snapshot of another type). The warmed polls' traffic takes none of
them, so a capture finds nothing and says so.
``--check`` prints a digest of the rows the replay wrote (the same before and after a
change of ``add``: its rows' bytes unchanged), and one of the rows without their event
ids (the same across a change of how the ids are made: stop 34's ``ids.ordinal_id``).
"""

from __future__ import annotations

import argparse
import hashlib
import operator
import pickle
from typing import Any

from libs.common.constructed import constructed
from services.router.store.outbox import OutboxWriter


class _Rows:
    """The unit of work's ``insert_later``: the rows kept in order."""

    def __init__(self) -> None:
        self.rows: list[tuple[type, dict[str, object]]] = []

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        self.rows.append((model, values))


def capture(path: str, polls: int) -> None:
    from bench.router_poll_callgrind import POLL, route_recorded

    captured: list[list[tuple[Any, str]]] = []
    original, original_values = OutboxWriter.add, OutboxWriter.add_values

    def recording(self: OutboxWriter, event: Any, *, cause: str) -> str:
        captured[-1].append((event, cause))
        return original(self, event, cause=cause)

    def recording_values(self: OutboxWriter, model: Any, values: Any, *, cause: str) -> str:
        # an event emit adds as values (``add_values``): recorded as
        # the instance it stands for, its snapshot the very object given
        captured[-1].append((constructed(model, dict(values)), cause))
        return original_values(self, model, values, cause=cause)

    route_recorded(
        polls,
        {(OutboxWriter, "add"): recording, (OutboxWriter, "add_values"): recording_values},
        before_poll=lambda: captured.append([]),
    )
    with open(path, "wb") as file:
        pickle.dump(captured, file)
    events = sum(map(len, captured))
    if not events:
        raise SystemExit(
            "captured no events: the routed polls' events go through OutboxWriter.add_written"
            " (bench.emit_callgrind replays them), not add / add_values"
        )
    print(f"captured {events} events of {polls} polls of {POLL} to {path}")


def _replay(poll: list[tuple[Any, str]]) -> _Rows:
    rows = _Rows()
    writer = OutboxWriter(rows)
    add = writer.add
    for event, cause in poll:
        add(event, cause=cause)
    return rows


def replay(path: str, *, check: bool) -> None:
    with open(path, "rb") as file:
        captured = pickle.load(file)  # noqa: S301 - our own capture
    _replay(captured[0])  # warm: imports, caches
    digest, without_ids = hashlib.sha256(), hashlib.sha256()
    for poll in captured:
        rows = operator.call(_replay, poll)  # callgrind: --toggle-collect=_operator_call
        for model, values in rows.rows:
            digest.update(repr((model.__name__, sorted(values.items()))).encode())
            rest = sorted((key, value) for key, value in values.items() if key != "event_id")
            without_ids.update(repr((model.__name__, rest)).encode())
    events = sum(map(len, captured))
    print(f"replayed {events} events of {len(captured)} polls")
    if check:
        print(f"rows digest {digest.hexdigest()}")
        # the rows but their event ids (a change of how ids are made leaves these)
        print(f"rows digest without the event ids {without_ids.hexdigest()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", metavar="FILE")
    parser.add_argument("--replay", metavar="FILE")
    parser.add_argument("--polls", type=int, default=2, help="polls of 400 to capture")
    parser.add_argument("--check", action="store_true", help="print the rows' digest")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    if args.capture:
        capture(args.capture, args.polls)
    if args.replay:
        replay(args.replay, check=args.check)
