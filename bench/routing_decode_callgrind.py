"""Instructions per routing-event decode (``cloudevents.decode``), the notifier's per-record cost.

The records are :func:`bench.notify_instructions.encoded_polls`' (the relay's bytes) of the
``--mix`` (``pipeline``: web chats, ``conversation.opened`` and ``.assigned`` decoded;
``interaction.routed`` is skipped undecoded by the notifier, so left out). Under callgrind,
only the decode loop is instrumented::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/d.out \\
        .venv/bin/python -m bench.routing_decode_callgrind --events 300
    (instructions per decode = the total / the decodes printed; the difference of two
    sizes cancels the window's own cost: 300 - 150 events = 100 decodes)

Stop 23, pipeline mix: 140.6 K a decode; pydantic's ``cache_strings="keys"`` or ``False`` on
the event models 148.3 K / 148.6 K (the string cache pays); ``AfterValidator`` of UtcDatetime as
``operator.methodcaller("astimezone", UTC)`` (no Python frame) 141.9 K: neither kept.
Stop 32 (600/1200 events, 400/800 decodes): 135.3 K -> 131.8 K with UtcDatetime's
``fromisoformat`` of our producers' text (the astimezone of pydantic-core's TzInfo was the
cost, not the Python frame) -> 128.2 K with ``cloud_event``'s twin of the slots and the
majors' dicts. Where the rest goes: ``bench.decode_parts_callgrind``.
"""

from __future__ import annotations

import argparse

from bench.notify_instructions import callgrind_instrumentation, encoded_polls
from libs.common.cloudevents import decode
from libs.common.events import InteractionRouted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=300, help="routing events made")
    parser.add_argument("--mix", choices=("pipeline", "backlog"), default="pipeline")
    parser.add_argument("--no-window", action="store_true", help="not under valgrind")
    args = parser.parse_args()
    routed = InteractionRouted.ce_type.encode()
    records = [
        (headers, value)
        for poll in encoded_polls(args.events, 1, args.mix)
        for headers, value in poll
        if dict(headers)["ce_type"] != routed
    ]
    for headers, value in records[:20]:  # warm: the validators' caches, lru caches
        decode(headers, value)
    if not args.no_window:
        callgrind_instrumentation(True)
    for headers, value in records:
        decode(headers, value)
    if not args.no_window:
        callgrind_instrumentation(False)
    print({"decodes": len(records), "mix": args.mix})


if __name__ == "__main__":
    main()
