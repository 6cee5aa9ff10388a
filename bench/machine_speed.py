"""How fast this machine runs Python: a fixed workload's CPU time, for comparing runs.

The targets of issue #16 are absolute (interactions per second on two cores), and the
project's machines are not all alike: on 2026-11-29 the same VM kind ran a loop of
10,000,000 integer additions in ~1.5 s, ~2.5x slower than on earlier days. Every figure
is also shown against a ceiling measured in the same run, which moves with the machine;
this number says by how much the machine itself moved, so a slower run of the same code is
not mistaken for a regression (or a faster one for progress).

The workload is what the services spend their time on, in small: integer loops, dict and
list work, str formatting, JSON round trips. Its CPU time (``time.process_time``) is the
best of ``ROUNDS``, so a busy machine's preemptions count as little as possible.
"""

from __future__ import annotations

import json
import time

ROUNDS = 5


def _workload() -> int:
    total = 0
    for i in range(400_000):
        total += i & 0xFF
    table: dict[str, int] = {}
    for i in range(100_000):
        table[f"key-{i % 5_000}"] = table.get(f"key-{i % 5_000}", 0) + i
    rows = [{"id": i, "name": f"row {i}", "values": [i, i * 2, i * 3]} for i in range(10_000)]
    decoded = json.loads(json.dumps(rows))
    return total + len(table) + len(decoded)


def python_workload_ms(rounds: int = ROUNDS) -> float:
    """CPU milliseconds of the fixed workload: the best of ``rounds``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        _workload()
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


if __name__ == "__main__":
    print(f"fixed Python workload: {python_workload_ms()} CPU-ms (best of {ROUNDS})")
