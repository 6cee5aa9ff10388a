"""A poll's interactions validated one record at a time (as the consumer decodes them)
against one pydantic-core call over the values joined into one JSON array.

The records are :class:`bench.router_poll_cpu.Traffic`'s interactions encoded as
``chat_ingest`` produces them (``bench.interaction_decode_callgrind``'s). Prints the
best of ``--repeats`` timings per record of: ``cloudevents.decode`` per record, the
interaction's validator alone per record, ``TypeAdapter(list[Interaction])`` and a
``RootModel`` over the joined array, and pydantic-core's bare JSON parse both ways::

    .venv/bin/python -m bench.interaction_batch_decode [--records 400] [--repeats 15]
    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/b.out .venv/bin/python -m bench.interaction_batch_decode \\
        --way "validator each"    # or "list adapter, joined"; Ir / records

Measured 2026-11-30 under callgrind (``--way``, 400 records, PYTHONHASHSEED=0): decode
130.4 K instructions a record, the validator alone 112.1 K, the list adapter over the
joined array 114.8 K (the join included): one call over a poll saves nothing in
instructions. Timed on the shared VM (load 6-9, best of 15, three rounds) it was slower:
the validator 11.0-11.8 µs a record against 20.4-31.6 for the list adapter (21.0 the
RootModel); the bare parse 4.7 joined against 4.1 each. So the router keeps decoding
record by record (a batch path would also have to prove that no record's bytes can move
another's boundaries in the joined array). What decode adds around the validation,
~18 K a record, is ``libs/common/cloudevents.py``'s (headers, envelope, time).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import pydantic_core
from pydantic import RootModel, TypeAdapter

from bench.notify_instructions import callgrind_instrumentation
from bench.router_poll_cpu import Traffic
from libs.common.cloudevents import cloud_event, decode, encode
from libs.common.events.interaction import Interaction


class _Poll(RootModel[list[Interaction]]):
    pass


def records(count: int) -> list[tuple[tuple[tuple[str, bytes], ...], bytes]]:
    out = []
    for incoming in Traffic().poll(count):
        data = incoming.interaction
        event = cloud_event(
            incoming.event_id,
            f"omnidesk/chat_ingest/{data.provider}/{data.integration}",
            data.event_type(),
            data,
            data.occurred_at,
            None,
            {},
        )
        headers, value = encode(event)
        out.append((tuple(headers), value))
    return out


def best_us_per_record(run: Callable[[], object], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return round(best / count * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--way", help="under callgrind: run this way once in the instrumented window only"
    )
    args = parser.parse_args()
    polled = records(args.records)
    values = [value for _, value in polled]
    joined = b"[" + b",".join(values) + b"]"
    validator = Interaction.__pydantic_validator__
    adapter = TypeAdapter(list[Interaction])
    assert adapter.validate_json(joined) == [validator.validate_json(v) for v in values]
    ways: dict[str, Callable[[], object]] = {
        "decode each": lambda: [decode(h, v) for h, v in polled],
        "validator each": lambda: [validator.validate_json(v) for v in values],
        "list adapter, joined": lambda: adapter.validate_json(joined),
        "RootModel, joined": lambda: _Poll.model_validate_json(joined),
        "parse each": lambda: [pydantic_core.from_json(v) for v in values],
        "parse joined": lambda: pydantic_core.from_json(joined),
    }
    if args.way:
        run = ways[args.way]
        run()  # warm: the validators' caches
        callgrind_instrumentation(True)
        run()
        callgrind_instrumentation(False)
        return
    for name, run in ways.items():
        print(f"{name}: {best_us_per_record(run, len(values), args.repeats)} µs a record")


if __name__ == "__main__":
    main()
