"""``bench.interaction_model_variants_callgrind``: each variant of the interaction's model
reads the bench's records into the same values."""

from __future__ import annotations

import dataclasses

import pytest

from bench.interaction_batch_decode import records
from bench.interaction_model_variants_callgrind import NESTED, VARIANTS, variant_model
from libs.common.events.interaction import Interaction


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_reads_the_records_as_the_model_does(variant: str) -> None:
    model = variant_model(variant)
    for _, body in records(20):
        read = model.model_validate_json(body)
        expected = Interaction.model_validate_json(body)
        assert list(read.__dict__) == list(expected.__dict__)
        for name, value in expected.__dict__.items():
            assert _plain(read.__dict__[name]) == _plain(value), (variant, name)
        if variant != "model":
            assert all(type(read.__dict__[name]) is not NESTED[name] for name in NESTED)
