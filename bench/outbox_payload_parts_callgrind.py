"""Instructions of the parts of an outbox payload's serialisation, under callgrind.

Takes ``bench.outbox_add_callgrind --capture``'s events (the router's warmed polls of
400) and runs one part of what ``OutboxWriter.add`` does for them inside
``operator.call``, so that callgrind collects only that part:

- ``snapshot``: pydantic's JSON of each distinct conversation snapshot (one a cause);
- ``rest``: each event's own fields (``_rest_serializer``'s typed-dict serializer);
- ``ids``: each event's id (a stem per cause, ``ids.ordinal_id_stem``, and the
  event's ordinal; until stop 34 ``time_ordered_id_beside_last``, a prefix per cause);
- ``add``: the whole of ``add`` (as ``bench.outbox_add_callgrind --replay``)::

    .venv/bin/python -m bench.outbox_add_callgrind --capture /tmp/events.pickle
    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/part.out \\
        .venv/bin/python -m bench.outbox_payload_parts_callgrind /tmp/events.pickle --part rest
    callgrind_annotate /tmp/part.out | grep TOTALS   # / the units it prints

Each part runs once unmeasured first (imports, caches, serializers built).
"""

from __future__ import annotations

import argparse
import operator
import pickle
from collections.abc import Callable
from typing import Any

from libs.common.ids import ORDINAL_DIGITS, ordinal_id_stem
from services.router.store.outbox import (
    _KIND,
    _SNAPSHOT_SERIALIZER,
    OutboxWriter,
    _rest_serializer,
)


class _Rows:
    def insert_later(self, model: type, values: dict[str, object]) -> None:
        pass


def parts(captured: list[list[tuple[Any, str]]]) -> dict[str, tuple[Callable[[], object], int]]:
    """Per part: a function running it over every captured event, and its units' count."""
    events = [(event, cause) for poll in captured for event, cause in poll]
    snapshots: list[Any] = []
    for event, _cause in events:  # consecutive events share their cause's snapshot object
        if not snapshots or event.conversation is not snapshots[-1]:
            snapshots.append(event.conversation)
    rest = {type(event): _rest_serializer(type(event)) for event, _cause in events}

    def snapshot() -> None:
        for each in snapshots:
            _SNAPSHOT_SERIALIZER.to_json(each).decode()

    def rest_part() -> None:
        for event, _cause in events:
            rest[type(event)].to_json(vars(event))  # type: ignore[union-attr]

    def ids() -> None:
        stems: dict[str, tuple[int, str]] = {}
        for event, cause in events:
            known = stems.get(cause)
            if known is None:
                known = (
                    0,
                    ordinal_id_stem(vars(event.conversation)["conversation_id"], _KIND, cause),
                )
            ordinal, stem = known
            stems[cause] = (ordinal + 1, stem)
            stem + ORDINAL_DIGITS[ordinal]

    def add() -> None:
        for poll in captured:
            writer = OutboxWriter(_Rows())
            for event, cause in poll:
                writer.add(event, cause=cause)

    return {
        "snapshot": (snapshot, len(snapshots)),
        "rest": (rest_part, len(events)),
        "ids": (ids, len(events)),
        "add": (add, len(events)),
    }


def main(args: argparse.Namespace) -> None:
    with open(args.capture, "rb") as file:
        captured = pickle.load(file)  # noqa: S301 - our own capture
    run, units = parts(captured)[args.part]
    run()  # warm
    operator.call(run)  # callgrind: --toggle-collect=_operator_call
    interactions = sum(1 for poll in captured for event, _ in poll if _is_routed(event))
    print(f"{args.part}: {units} units, {interactions} interactions")


def _is_routed(event: Any) -> bool:
    return type(event).__name__ == "InteractionRouted"  # one per routed interaction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", help="bench.outbox_add_callgrind --capture's file")
    parser.add_argument("--part", choices=["snapshot", "rest", "ids", "add"], default="add")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
