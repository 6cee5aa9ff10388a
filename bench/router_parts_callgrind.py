"""Instructions of several parts of routing at once, under callgrind: one run for up to
eight parts, nested or not.

``bench.router_decision_parts`` brackets one part in ``operator.call`` and collects
there only, so each part takes a run of its own (a few minutes under valgrind). Here
the measured polls are collected whole (``route_batch`` inside ``operator.call``) and
each part is called through a C function of its own (``sys.call_tracing``,
``operator.methodcaller``, ``itertools.starmap`` …, ``TRAMPOLINES``), which nothing
else in a poll calls: callgrind's inclusive count of that C function is the part's
(each step of a coroutine function's coroutine, as ``router_decision_parts``; the
trampoline's own few hundred instructions a call included). Parts may nest: an inner
part's count is in its outer one's too::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/parts.out \\
        .venv/bin/python -m bench.router_parts_callgrind \\
        --part services.router.store.outbox:OutboxWriter._add \\
        --part services.router.service.events:Emitter.snapshot
    python -m bench.router_parts_callgrind --report /tmp/parts.out --polls 2 \\
        --part ... (the same parts, in the same order)

The report divides each trampoline's inclusive count (``callgrind_annotate
--inclusive=yes``) by the measured interactions (``--polls`` times 400). Each call of a
part adds its trampoline's own work to its count (the ``functools.partial``, the
lambda, the C function: ``TRAMPOLINES``' third figure, callgrind, 1,000 calls of a
function of two arguments): 1.6-2.9 K instructions a call, so for a part called several
times an interaction subtract calls times that, and from an outer part also what its
nested parts' trampolines add (at 98c83be ``Emitter._snapshot_of`` counted 57.4 K an
interaction with ``_parse`` and ``agent_reference`` bracketed inside it).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import operator
import re
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from bench.common import annotate_inclusive
from bench.router_decision_parts import patched
from bench.router_poll_callgrind import POLL, warmed_router
from services.router.service.interactions import route_batch


def _via_call_tracing(call: Callable[[], Any]) -> Any:
    return sys.call_tracing(call, ())


def _via_methodcaller(call: Callable[[], Any]) -> Any:
    return operator.methodcaller("__call__")(call)


def _via_starmap(call: Callable[[], Any]) -> Any:
    return next(itertools.starmap(call, [()]))


def _via_reduce(call: Callable[[], Any]) -> Any:
    return functools.reduce(lambda _first, _second: call(), [None, None])


def _via_accumulate(call: Callable[[], Any]) -> Any:
    return next(itertools.islice(itertools.accumulate([None, None], lambda _a, _b: call()), 1, 2))


def _via_takewhile(call: Callable[[], Any]) -> Any:
    box: list[Any] = []
    next(itertools.takewhile(lambda _: box.append(call()) or True, [None]))
    return box[0]


def _via_dropwhile(call: Callable[[], Any]) -> Any:
    box: list[Any] = []
    next(itertools.dropwhile(lambda _: box.append(call()) and False, [None]))
    return box[0]


def _via_filterfalse(call: Callable[[], Any]) -> Any:
    box: list[Any] = []
    next(itertools.filterfalse(lambda _: box.append(call()), [None]))
    return box[0]


#: (calls ``call()`` through a C function, that C function's name in callgrind's output,
#: the instructions a call it adds to the part's count)
TRAMPOLINES: list[tuple[Callable[[Callable[[], Any]], Any], str, int]] = [
    (_via_call_tracing, "sys_call_tracing", 1635),
    (_via_methodcaller, "methodcaller_call", 2004),
    (_via_starmap, "starmap_next", 1645),
    (_via_reduce, "functools_reduce", 2890),
    (_via_accumulate, "accumulate_next", 2389),
    (_via_takewhile, "takewhile_next", 2516),
    (_via_dropwhile, "dropwhile_next", 2510),
    (_via_filterfalse, "filterfalse_next", 2476),
]


def measure(args: argparse.Namespace) -> None:
    if len(args.part) > len(TRAMPOLINES):
        raise SystemExit(f"at most {len(TRAMPOLINES)} parts a run")
    loop = asyncio.new_event_loop()
    with (
        tempfile.TemporaryDirectory() as folder,
        warmed_router(loop, folder, size=POLL) as (ctx, traffic),
    ):
        undo = [
            patched(part, trampoline)
            for part, (trampoline, _, _) in zip(args.part, TRAMPOLINES, strict=False)
        ]
        try:
            for _ in range(args.polls):
                batch = traffic.poll(POLL)
                # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
                operator.call(loop.run_until_complete, route_batch(ctx, batch))
        finally:
            for restore in reversed(undo):
                restore()
    loop.close()
    print(f"routed {args.polls} measured polls of {POLL}, {len(args.part)} parts")


def report(args: argparse.Namespace) -> None:
    annotated = annotate_inclusive(args.report)
    interactions = args.polls * POLL
    total = _count(annotated, "PROGRAM TOTALS")
    print(f"whole polls: {total / interactions / 1000:8.1f} K instructions an interaction")
    for part, (_, symbol, added) in zip(args.part, TRAMPOLINES, strict=False):
        count = _count(annotated, f":{symbol} ")
        print(f"{part:70} {count / interactions / 1000:8.1f} K (+{added / 1000:.1f} K a call)")


def _count(annotated: str, marker: str) -> int:
    """The largest count on a line naming ``marker`` (a C function's own file's line: its
    inlined headers' lines carry parts of it)."""
    counts = [
        int(match.group(1).replace(",", ""))
        for line in annotated.splitlines()
        if marker in line and (match := re.match(r"\s*([\d,]+)", line))
    ]
    return max(counts, default=0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", action="append", required=True, help="module:Qualified.name (repeat)"
    )
    parser.add_argument("--polls", type=int, default=2, help="measured polls of 400")
    parser.add_argument("--report", help="a callgrind output file of this run: print the parts")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    report(arguments) if arguments.report else measure(arguments)
