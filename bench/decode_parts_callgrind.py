"""Where a decode's instructions go: ``cloudevents.decode`` against its parts, for the
router's interactions or the notifier's routing events.

The records are ``bench.interaction_decode_callgrind``'s (``--records interactions``) or
``bench.routing_decode_callgrind``'s (``routing``, the pipeline mix). ``--way``:

- ``decode``: ``cloudevents.decode``, as the consumers call it;
- ``validator``: the model's ``__pydantic_validator__.validate_json`` of the body alone;
- ``parse``: ``pydantic_core.from_json`` of the body (the JSON into Python objects, no model);
- ``envelope``: decode's steps around the validation (headers, ``ce_time``, the
  ``CloudEvent``), the body validated beforehand.

Only the loop over the records is instrumented; the heap is frozen before it (a whole-heap
collection falling in one size's window and not the other's moved a difference of two
sizes by ~2 K)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/p.out .venv/bin/python -m bench.decode_parts_callgrind \\
        --records interactions --way validator --count 400
    (instructions a record: the difference of two counts, e.g. 800 and 400, / 400)

Stop 32 (PYTHONHASHSEED=0, 400 - 200 records), K instructions a record, at 98c83be ->
with this stop's cuts (UtcDatetime's ``fromisoformat``, ``cloud_event``'s twin of the slots)::

                    decode         validator      parse   envelope
    interaction     111.2 -> 103.3  92.0 -> 89.0   46.5    20.2 -> 15.0
    routing event   135.8 -> 125.6 114.4 -> 110.1  59.7    21.5 -> 16.3

In the interaction's validator (variants of the model, 100 - 200 records): the two
``UtcDatetime`` fields' ``astimezone`` of pydantic-core's ``TzInfo`` ~9 K before (a no-op
``AfterValidator`` costs ~0.6 K a field: the call is not the cost), ``MessageBody._cap``
~1.1 K, ``Interaction._derive_key`` ~0.7 K; without any Python validator 79.7 K, so ~70 K
is pydantic-core's (parse, checks, seven models built) for a body of ~1 KB. The same body
without its default-valued fields (what ``exclude_defaults`` would write, ``schema_version``
kept) validated in 73.2 K instead of 90.4 K: a change of what producers write, not made.
"""

from __future__ import annotations

import argparse
import gc

import pydantic_core

from bench.interaction_batch_decode import records as interaction_records
from bench.notify_instructions import callgrind_instrumentation, encoded_polls
from libs.common.cloudevents import decode
from libs.common.events import InteractionRouted
from libs.common.events.registry import EVENT_TYPES

WARM = 20  # records before the window: the validators' caches, lru caches

Record = tuple[tuple[tuple[str, bytes], ...], bytes]


def routing_records(count: int) -> list[Record]:
    routed = InteractionRouted.ce_type.encode()
    out: list[Record] = []
    events = count
    while len(out) < count:
        out = [
            (tuple(headers), value)
            for poll in encoded_polls(events, 1, "pipeline")
            for headers, value in poll
            if dict(headers)["ce_type"] != routed
        ]
        events += count
    return out[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", choices=("interactions", "routing"), default="interactions")
    parser.add_argument(
        "--way", choices=("decode", "validator", "parse", "envelope"), default="decode"
    )
    parser.add_argument("--count", type=int, default=400, help="records counted")
    parser.add_argument("--no-window", action="store_true", help="not under valgrind")
    args = parser.parse_args()
    make = interaction_records if args.records == "interactions" else routing_records
    records = make(WARM + args.count)
    models = [EVENT_TYPES[dict(headers)["ce_type"].decode()] for headers, _ in records]
    if args.way == "decode":
        steps = [(decode, (headers, value)) for headers, value in records]
    elif args.way == "validator":
        steps = [
            (model.__pydantic_validator__.validate_json, (value,))
            for model, (_, value) in zip(models, records, strict=True)
        ]
    elif args.way == "parse":
        steps = [(pydantic_core.from_json, (value,)) for _, value in records]
    else:
        # decode with the body's validation answered from a dict of the ready models
        import libs.common.cloudevents as cloudevents

        ready = {value: decode(headers, value).data for headers, value in records}
        validators = {model: model.__pydantic_validator__ for model in set(models)}

        class _Ready:
            validate_json = staticmethod(ready.__getitem__)

        for model in validators:
            model.__pydantic_validator__ = _Ready  # type: ignore[misc,assignment]
        steps = [(cloudevents.decode, (headers, value)) for headers, value in records]
    try:
        for call, call_args in steps[:WARM]:
            call(*call_args)
        gc.collect()
        gc.freeze()
        if not args.no_window:
            callgrind_instrumentation(True)
        for call, call_args in steps[WARM:]:
            call(*call_args)
        if not args.no_window:
            callgrind_instrumentation(False)
    finally:
        if args.way == "envelope":
            for model, validator in validators.items():
                model.__pydantic_validator__ = validator  # type: ignore[misc]
    print({"decodes": args.count, "records": args.records, "way": args.way})


if __name__ == "__main__":
    main()
