"""published_receipt gives the instance Receipt(...) validation gives, and its answer bytes."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events import InteractionKind
from services.phone_log.intake import published_receipt
from services.phone_log.schemas import Receipt


class Text(str):
    """A str subclass: validation makes it a plain str, so it must be validated."""


texts = st.text(max_size=40)
maybe_subclassed = texts | texts.map(Text)


def _state(receipt: Receipt) -> tuple[Any, ...]:
    return (
        type(receipt),
        {name: (type(value), value) for name, value in receipt.__dict__.items()},
        list(receipt.__dict__),
        receipt.model_fields_set,
        receipt.__pydantic_extra__,
        receipt.__pydantic_private__,
        receipt.model_dump_json(),
        Receipt.__pydantic_serializer__.to_json(receipt),
    )


@given(
    status=st.sampled_from(["accepted", "duplicate"]) | st.sampled_from(["accepted"]).map(Text),
    event_id=maybe_subclassed,
    kind=st.sampled_from(list(InteractionKind)),
    call_id=st.none() | maybe_subclassed,
)
def test_the_instance_validation_gives(
    status: Any, event_id: str, kind: InteractionKind, call_id: str | None
) -> None:
    ours = published_receipt(status, event_id, kind, call_id)
    reference = Receipt(status=status, event_id=event_id, kind=kind, call_id=call_id)
    assert _state(ours) == _state(reference)
    assert ours == reference
