"""Instructions per interaction decode (``cloudevents.decode``), the router's per-record cost.

The records are :class:`bench.router_poll_cpu.Traffic`'s interactions (the router's poll
benches' mix of chats and mails) encoded as ``chat_ingest`` produces them (no subject,
no extensions), their headers in a tuple as the router's consumer hands them to
``decode`` (aiokafka's ``ConsumerRecord.headers``). Under callgrind, only the decode
loop is instrumented::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/i.out \\
        .venv/bin/python -m bench.interaction_decode_callgrind --interactions 200
    (instructions per decode: the difference of two sizes, e.g. 200 and 100, / 100: it
    cancels the window's own cost)

Stop 26 (PYTHONHASHSEED=0): 118.6 K a decode; 108.1 K with decode's short path for a
record in ``encode``'s own shape, measured with encode's list of headers, which no
consumed record is: the router's records (aiokafka's tuple) took the general path until
stop 27 made the short path take a tuple too. With tuples (as consumed): 80d3b62 119.6 K
a decode (the general path), stop 27 110.7 K (the short path). Stop 32 (400/800 decodes:
200/400 moved by ~2 K with where the collector ran): 109.7 K -> 107.2 K with UtcDatetime's
``fromisoformat`` of our producers' text -> 102.7 K with ``cloud_event``'s twin of the
slots and the majors' dicts. Where the rest goes: ``bench.decode_parts_callgrind``.
"""

from __future__ import annotations

import argparse

from bench.interaction_batch_decode import records as encoded_records
from bench.notify_instructions import callgrind_instrumentation
from libs.common.cloudevents import decode

WARM = 20  # decodes before the window: the validators' caches, lru caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--interactions", type=int, default=200, help="decodes counted")
    parser.add_argument("--no-window", action="store_true", help="not under valgrind")
    args = parser.parse_args()
    records = encoded_records(WARM + args.interactions)
    for headers, value in records[:WARM]:
        decode(headers, value)
    if not args.no_window:
        callgrind_instrumentation(True)
    for headers, value in records[WARM:]:
        decode(headers, value)
    if not args.no_window:
        callgrind_instrumentation(False)
    print({"decodes": len(records) - WARM})


if __name__ == "__main__":
    main()
