"""Instructions of the interaction's validation (``validate_json`` of its body) with its
model as it is against variants of it: where pydantic-core's ~87 K instructions an
interaction go, and what a change of the model (not made) would save.

The records are ``bench.interaction_decode_callgrind``'s (the router's mix of chats and
mails as chat_ingest encodes them). ``--variant``:

- ``model``: ``Interaction`` itself;
- ``typed-dict``: its five nested models that every body carries (``customer``,
  ``thread``, ``body``, ``flags``, ``routing_hints``) as ``TypedDict``s of the same fields:
  validated dicts, no instances;
- ``dataclass``: those five as pydantic dataclasses (instances without the fields-set);
- ``any``: those five as ``Any`` (the JSON's dicts, not validated);
- ``no-python``: without the model's Python validators (``MessageBody._cap``,
  ``Interaction._derive_key``: the nested models and the interaction rebuilt without them).

Only the loop over the records is instrumented (the heap frozen before it)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no \\
        --callgrind-out-file=/tmp/v.out \\
        .venv/bin/python -m bench.interaction_model_variants_callgrind \\
        --variant typed-dict --count 400
    (instructions a record: the difference of two counts, e.g. 400 and 200, / 200)

Every variant but ``model`` is built without the model's Python validators
(``create_model`` copies fields, not validators): ``no-python`` is that part alone.

Stop 41 (PYTHONHASHSEED=0, 400 - 200 records, ``UtcDatetime`` a plain validator function,
13:15-13:30 UTC), K instructions a record: model 86.9, no-python 84.8 (the two Python
validators ~2.1), typed-dict 67.3, dataclass 80.8, any 75.7. So ~17.5 K of an
interaction's validation is its five nested models being model instances (each one's
fields-set, slots and instance); pydantic dataclasses (no fields-set) save ~4 K of it, and
``any`` costs more than typed dicts (pydantic-core's generic JSON-to-Python path). The
router reads the nested values as objects (``fields["thread"].__dict__[...]``,
``flags.automated``, ``customer.key()``) and the producers build them as models: a
change to typed dicts is one of every reader and writer, not made.
"""

from __future__ import annotations

import argparse
import gc
from typing import Any, NotRequired

from pydantic import BaseModel, ConfigDict, create_model
from pydantic.dataclasses import dataclass as pydantic_dataclass
from typing_extensions import TypedDict  # pydantic's TypedDict on Python < 3.12

from bench.interaction_batch_decode import records as interaction_records
from bench.notify_instructions import callgrind_instrumentation
from libs.common.events import interaction as events
from libs.common.events.base import EventModel, ValueModel

WARM = 20  # records before the window: the validators' caches
#: the nested models every interaction's body carries (the others are null or empty)
NESTED = {
    "customer": events.CustomerIdentity,
    "thread": events.ThreadHints,
    "body": events.MessageBody,
    "flags": events.Flags,
    "routing_hints": events.RoutingHints,
}
VARIANTS = ("model", "typed-dict", "dataclass", "any", "no-python")


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {name: (field.annotation, field) for name, field in model.model_fields.items()}


def _typed_dict(model: type[BaseModel]) -> Any:
    annotations = {name: NotRequired[f.annotation] for name, f in model.model_fields.items()}
    return TypedDict(f"{model.__name__}Dict", annotations)  # type: ignore[operator]


def _dataclass(model: type[BaseModel]) -> Any:
    namespace: dict[str, Any] = dict(model.model_fields)
    namespace["__annotations__"] = {n: f.annotation for n, f in model.model_fields.items()}
    plain = type(f"{model.__name__}Data", (), namespace)
    return pydantic_dataclass(plain, config=ConfigDict(extra="ignore"))


def variant_model(variant: str) -> type[BaseModel]:
    """``Interaction`` or a variant of it (see the module doc)."""
    if variant == "model":
        return events.Interaction
    fields = _fields(events.Interaction)
    if variant == "no-python":
        for name, model in NESTED.items():
            plain = create_model(model.__name__, __base__=ValueModel, **_fields(model))
            fields[name] = (plain, events.Interaction.model_fields[name])
    else:
        remake = {"typed-dict": _typed_dict, "dataclass": _dataclass, "any": lambda _: Any}
        for name, model in NESTED.items():
            field = events.Interaction.model_fields[name]
            default = ... if field.is_required() else {}
            fields[name] = (remake[variant](model), default)
    return create_model(f"Interaction_{variant}", __base__=EventModel, **fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--variant", choices=VARIANTS, default="model")
    parser.add_argument("--count", type=int, default=400, help="records counted")
    parser.add_argument("--no-window", action="store_true", help="not under valgrind")
    args = parser.parse_args()
    values = [value for _, value in interaction_records(WARM + args.count)]
    validate = variant_model(args.variant).__pydantic_validator__.validate_json
    for value in values[:WARM]:
        validate(value)
    gc.collect()
    gc.freeze()
    if not args.no_window:
        callgrind_instrumentation(True)
    for value in values[WARM:]:
        validate(value)
    if not args.no_window:
        callgrind_instrumentation(False)
    print({"validated": args.count, "variant": args.variant})


if __name__ == "__main__":
    main()
