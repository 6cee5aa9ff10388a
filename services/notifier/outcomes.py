"""A notice's :class:`NotificationOutcome`, built from values the notifier itself made.

The handler fills every field from its own typed values: strings from the routing event
(validated when decoded) and the sent-log's rows, the channel and status as members of
their enums, the single-use part as a :class:`SingleUsePart`. Validating them again was
~8 K of the ~54 K instructions of ``NotificationHandler._outcome`` (callgrind,
``bench.notify_parts --detail``, pipeline mix; two outcomes a POST), so the usual outcome
is put together as ``model_construct`` would: the same ``__dict__`` (in the model's field
order, which pydantic-core serialises in), the same fields set. What typing does not
promise is checked, else validated as before: the sent-log's datetimes in UTC (``UtcDatetime``
would convert them), ``attempts`` ≥ 0, and no ``error_code`` (failures are rare, and a
provider's code may be a ``str`` subclass that validation turns into a ``str``).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from libs.common.constructed import constructed
from libs.common.events import NotificationOutcome

#: ``NotificationOutcome(**fields)`` without the keyword packing and ``BaseModel.__init__``
#: in Python: the same validator, the same object (7.2 -> 4.5 µs an outcome, timeit).
validated_outcome = NotificationOutcome.__pydantic_validator__.validate_python

#: ``schema_version`` as the model leaves it by default (not in the fields set)
OUTCOME_SCHEMA_VERSION: str = NotificationOutcome.model_fields["schema_version"].default
#: the model's fields in its order; ``new_outcome``'s values name them in this order
OUTCOME_FIELDS = tuple(NotificationOutcome.model_fields)
_FIELD_COUNT = len(OUTCOME_FIELDS)
_FIELDS_SET = frozenset(OUTCOME_FIELDS) - {"schema_version"}


def new_outcome(values: dict[str, Any]) -> NotificationOutcome:
    """``NotificationOutcome(**fields)`` for ``values``: ``schema_version`` (its default,
    :data:`OUTCOME_SCHEMA_VERSION`, left out of the fields set as the model leaves it)
    and every other field, in :data:`OUTCOME_FIELDS`' order, each of the type the model
    declares. ``values`` becomes the outcome's ``__dict__`` when the checks pass."""
    if (
        values["occurred_at"].tzinfo is not UTC
        or ((accepted_at := values["accepted_at"]) is not None and accepted_at.tzinfo is not UTC)
        or values["attempts"] < 0
        or values["error_code"] is not None
        or values["schema_version"] is not OUTCOME_SCHEMA_VERSION
        or len(values) != _FIELD_COUNT  # the order: the handler's tests (a dict literal)
    ):
        return validated_outcome({k: v for k, v in values.items() if k != "schema_version"})
    return constructed(NotificationOutcome, values, set(_FIELDS_SET))
