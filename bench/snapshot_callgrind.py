"""Instructions of an event's conversation snapshot under callgrind: ``emit``'s
``Emitter._ready_snapshot`` (its key, the last one reused or a new one built by
``_snapshot_of``) and, with ``--json``, the snapshot's JSON as the outbox writes it
(``OutboxWriter._snapshot_text``), replayed in process.

The warmed router (``bench.router_poll_callgrind.warmed_router``) routes ``--polls``
polls of 400 while every ``_ready_snapshot`` call is recorded: its emitter and a copy of
its conversation's values at the call (an instance of the conversation's class holding
them: the values change after the call as routing goes on). Then the calls are made
again in order inside ``operator.call``, each emitter's last snapshot and parsed values
as they were before its first call, so callgrind collects only them::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/snap.out \\
        .venv/bin/python -m bench.snapshot_callgrind --json
    callgrind_annotate /tmp/snap.out | grep TOTALS   # / the interactions it prints

``--written`` records and replays ``Emitter._ready_written`` instead (``emit``'s way to a
routed event's snapshot since stop 38: its JSON written from the values, no snapshot
instance), comparable with ``--json`` of a tree before it.

It prints a digest of the snapshots (their JSON) and how many were built; the digest
follows the wall clock (the traffic's times), so compare two trees' snapshots by the
unit tests, not by it.

Stop 36 (rshot), the snapshot's parts inline (then ``Emitter._pooled_snapshot``, now
``_snapshot_of``, the one builder both the pooled and the awaited snapshot use), base and
new run side by side: 46.95 -> 40.07 M instructions, 58.7 -> 50.1 K an interaction
(1,760 snapshots taken, 800 built).
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


def _frozen(conversation: Any) -> Any:
    """An instance of the conversation's class holding a copy of its values now."""
    copy = object.__new__(type(conversation))
    copy.__dict__.update(conversation.__dict__)
    return copy


def record(
    polls: int, method: str = "_ready_snapshot"
) -> list[tuple[Emitter, Any, dict[Any, Any]]]:
    calls: list[tuple[Emitter, Any, dict[Any, Any]]] = []
    original = getattr(Emitter, method)

    def recording(self: Emitter, conversation: Any) -> Any:
        # the stored values the emitter had parsed before (the interaction's own)
        calls.append((self, _frozen(conversation), dict(self._parsed)))
        return original(self, conversation)

    route_recorded(polls, {(Emitter, method): recording})
    return calls


def _replay(
    calls: list[tuple[Emitter, Any, dict[Any, Any]]], json: bool, written: bool = False
) -> list[Any]:
    made = []
    last_emitter = None
    writer = None
    for emitter, conversation, parsed in calls:
        if emitter is not last_emitter:
            emitter._last_snapshot = None
            if written:
                emitter._last_written = None
            emitter._parsed = parsed.copy()  # as at its first snapshot
            last_emitter = emitter
            writer = OutboxWriter(None)  # type: ignore[arg-type]  # a unit of work's
        if written:  # the conversation's id and its snapshot's JSON
            made.append(emitter._ready_written(conversation)[1])  # type: ignore[index]
            continue
        snapshot = emitter._ready_snapshot(conversation)
        made.append(writer._snapshot_text(snapshot) if json else snapshot)  # type: ignore[union-attr]
    return made


def main(args: argparse.Namespace) -> None:
    calls = record(args.polls, "_ready_written" if args.written else "_ready_snapshot")
    _replay(calls, args.json, args.written)  # warm
    tune_for_polls()
    # callgrind: --toggle-collect=_operator_call
    made = operator.call(_replay, calls, args.json, args.written)
    digest = hashlib.sha256()
    text = args.json or args.written
    for each in made:
        digest.update(each.encode() if text else each.model_dump_json().encode())
    built = len({id(each) for each in made}) if not text else "-"
    print(
        f"{len(calls)} snapshots taken ({built} objects) in {args.polls} polls of {POLL}"
        f" ({args.polls * POLL} interactions); digest {digest.hexdigest()}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=2, help="measured polls of 400")
    parser.add_argument("--json", action="store_true", help="also the snapshots' JSON")
    parser.add_argument(
        "--written",
        action="store_true",
        help="emit's way since stop 38: Emitter._ready_written (the JSON, no snapshot)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
