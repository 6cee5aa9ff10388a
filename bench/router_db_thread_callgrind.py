"""Instructions of the router's SQLite database thread per routed interaction, under
callgrind, and how many of them hold the GIL.

Routes ``bench.router_poll_callgrind``'s warmed polls on SQLite with callgrind's
instrumentation switched on for the measured polls only (``--instr-atstart=no``, the
window opened and closed by ``callgrind_control``), every thread in a file of its own::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \\
        --callgrind-out-file=/tmp/dbt-400.out \\
        .venv/bin/python -m bench.router_db_thread_callgrind --size 400 --polls 3
    python -m bench.router_db_thread_callgrind --report /tmp/dbt-400.out [/tmp/dbt-200.out]

``--report`` reads each thread's file (``callgrind_annotate --inclusive=yes``) and prints
its instructions and, for a thread that ran SQLite, the part of them inside the calls
CPython's ``sqlite3`` module makes with the GIL released (``sqlite3_step``,
``sqlite3_prepare_v2``/``_v3``, ``sqlite3_reset``, ``sqlite3_finalize``,
``sqlite3_close_v2``: ``Py_BEGIN_ALLOW_THREADS`` around each in ``Modules/_sqlite``);
the rest of the thread (aiosqlite's queue and hand-back, ``bulk._write_all``'s lines, the
parameters bound, the rows read) holds the GIL and counts against the main thread's one
core. Given two files (two poll sizes, the same polls count), it prints the difference
per interaction, so that the window's and the polls' fixed costs cancel.

The traffic is stamped with the wall clock (``bench.router_poll_callgrind``'s docstring):
compare trees by runs of the same minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from pathlib import Path

from bench.common import annotate_inclusive
from bench.notify_instructions import callgrind_instrumentation

#: sqlite3 calls CPython's ``_sqlite`` module makes with the GIL released
GIL_FREE = (
    "sqlite3_step",
    "sqlite3_prepare_v2",
    "sqlite3_prepare_v3",
    "sqlite3_reset",
    "sqlite3_finalize",
    "sqlite3_close_v2",
    "sqlite3_open_v2",
)


def main(args: argparse.Namespace) -> None:
    from bench.router_poll_callgrind import warmed_router
    from services.router.service.interactions import route_batch

    loop = asyncio.new_event_loop()
    with (
        tempfile.TemporaryDirectory() as folder,
        warmed_router(loop, folder, size=args.size) as (ctx, traffic),
    ):
        batches = [traffic.poll(args.size) for _ in range(args.polls)]
        if args.callgrind:
            callgrind_instrumentation(True)
        for batch in batches:
            loop.run_until_complete(route_batch(ctx, batch))
        if args.callgrind:
            callgrind_instrumentation(False)
    loop.close()
    print(f"routed {args.polls} measured polls of {args.size}")


def thread_files(out: Path) -> list[Path]:
    """``--separate-threads=yes``' files of one run: ``<out>-01``, ``<out>-02``, …"""
    return sorted(out.parent.glob(f"{out.name}-[0-9]*"), key=lambda p: int(p.name.rsplit("-")[-1]))


def thread_costs(path: Path) -> dict[str, int]:
    """A thread's total instructions and the inclusive ones of each ``GIL_FREE`` call."""
    text = annotate_inclusive(path)
    costs = {"total": 0}
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$", line)
        if match is None:
            continue
        count, name = int(match[1].replace(",", "")), match[2]
        if "PROGRAM TOTALS" in name:
            costs["total"] = count
            continue
        function = name.rsplit(":", 1)[-1].split()[0] if ":" in name else name.split()[0]
        if function in GIL_FREE:
            costs[function] = costs.get(function, 0) + count
    return costs


def report(outs: list[Path], size_difference: int) -> None:
    runs = [{p.name.rsplit("-")[-1]: thread_costs(p) for p in thread_files(out)} for out in outs]
    for out, threads in zip(outs, runs, strict=True):
        print(out)
        for thread, costs in threads.items():
            free = sum(v for k, v in costs.items() if k != "total")
            calls = {k: round(v / 1e6, 2) for k, v in costs.items() if k != "total"}
            print(
                f"  thread {thread}: {costs['total'] / 1e6:10.2f} M, GIL released "
                f"{free / 1e6:8.2f} M, GIL held {(costs['total'] - free) / 1e6:8.2f} M  {calls}"
            )
    if len(runs) == 2 and size_difference:
        print(f"difference / {size_difference} interactions (K instructions an interaction):")
        for thread in runs[0]:
            a, b = runs[0][thread], runs[1].get(thread)
            if b is None:
                continue
            free_a = sum(v for k, v in a.items() if k != "total")
            free_b = sum(v for k, v in b.items() if k != "total")
            total = (a["total"] - b["total"]) / size_difference / 1e3
            free = (free_a - free_b) / size_difference / 1e3
            print(
                f"  thread {thread}: {total:8.1f} K, GIL released {free:8.1f} K, "
                f"GIL held {total - free:8.1f} K"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400, help="interactions per poll")
    parser.add_argument("--polls", type=int, default=3, help="measured polls")
    parser.add_argument(
        "--no-callgrind",
        dest="callgrind",
        action="store_false",
        help="run the polls without switching callgrind's window (a check of the harness)",
    )
    parser.add_argument(
        "--report", nargs="+", type=Path, help="callgrind out files (before their -NN)"
    )
    parser.add_argument(
        "--difference",
        type=int,
        default=0,
        help="with two --report files: interactions the first routed more (sizes x polls)",
    )
    parsed = parser.parse_args()
    if parsed.report:
        report(parsed.report, parsed.difference)
    else:
        main(parsed)
